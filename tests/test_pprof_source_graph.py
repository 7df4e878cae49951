"""pprof's name shortening, ``list`` and the call-graph reports (dot, tree, callgrind).

Byte-for-byte comparisons with ``go tool pprof`` run in ``test_golden_pprof.py`` (the graph
and list cases of ``tests/golden/cases.py``); here: pprof's own golden files read from the
corpus, the rules in isolation, the table and HTML forms, and the command line.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import utc_timezone
from pprof_build import PprofBuilder

import profilelab
from profilelab.cli import main
from profilelab.ops.demangle import pprof_function_names, simplify
from profilelab.ops.options import ReportOptions
from profilelab.ops.sources import SourceReader, trim_path
from profilelab.render import report
from profilelab.render.graph import dot_color, shorten

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import cases as C

DRIVER_INPUTS = "_derived/google-pprof-driver-inputs"
# pprof's own goldens (google-pprof/internal/...) and the GRAPH_CASES entry made the same
# way; they were made with -symbolize=none, so names stay as stored.
PPROF_GOLDENS = {
    "driver/testdata/pprof.cpu.flat.functions.dot": 0,
    "driver/testdata/pprof.cpu.flat.functions.call_tree.dot": 1,
    "driver/testdata/pprof.heap.flat.lines.dot.focus": 2,
    "driver/testdata/pprof.heap_sizetags.dot": 3,
    "driver/testdata/pprof.contention.flat.addresses.dot.focus.ignore": 4,
    "driver/testdata/pprof.contention.cum.files.dot": 5,
    "driver/testdata/pprof.heap_alloc.flat.alloc_space.dot.focus": 6,
    "driver/testdata/pprof.heap_alloc.flat.alloc_space.dot": 7,
    "driver/testdata/pprof.heap_alloc.flat.alloc_space.dot.hide": 8,
    "driver/testdata/pprof.heap.flat.inuse_space.dot.focus": 9,
    "driver/testdata/pprof.heap.flat.inuse_space.dot.focus.ignore": 10,
    "driver/testdata/pprof.long_name_funcs.dot": 11,
    "driver/testdata/pprof.cpusmall.flat.addresses.tree": 13,
    "driver/testdata/pprof.heap.cum.lines.tree.focus": 14,
    "driver/testdata/pprof.heap.cum.relative_percentages.tree.focus": 15,
    "driver/testdata/pprof.cpu.cum.lines.tree.show_from": 16,
    "driver/testdata/pprof.cpu.callgrind": 17,
    "driver/testdata/pprof.cpu.call_tree.callgrind": 18,
    "driver/testdata/pprof.heap.callgrind": 19,
    "report/testdata/source.rpt": 20,
}


def _render(corpus: Path, index: int, names: str | None = None) -> str:
    file, kind, regex, flags = C.GRAPH_CASES[index]
    path = corpus / file
    opts = ReportOptions(**C.options_for(flags, path.parent), names=names)
    with utc_timezone():
        return report(profilelab.load(path), kind, opts, regex=regex)


@pytest.mark.parametrize("golden", sorted(PPROF_GOLDENS), ids=lambda g: g.rsplit("/", 1)[-1])
def test_equals_pprofs_own_golden_files(corpus: Path, golden: str) -> None:
    expected = (corpus / "google-pprof/internal" / golden).read_text(encoding="utf-8")
    assert _render(corpus, PPROF_GOLDENS[golden], names="full") == expected


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("(anonymous namespace)::Bar::Foo", "::Bar::Foo"),
        ("<alloc::alloc::Global as core::alloc::Allocator>::allocate", "::allocate"),
        ("std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector::push_back"),
        ("pkg.F[go.shape.interface { At() int }]", "pkg.F[go.shape.interface { At int }]"),
        ("main.(*Set[...]).Add", "main.(*Set[...]).Add"),  # Go method on a generic type
        ("java.lang.Thread.<init>", "java.lang.Thread.<init>"),  # Java constructor
        ("main.main", "main.main"),
        ("a::b)(c", "a::b)(c"),  # unbalanced: left alone
    ],
)
def test_simplify_follows_pprofs_demangling_heuristic(name: str, short: str) -> None:
    assert simplify(name) == short


def test_only_names_equal_to_their_system_name_are_simplified() -> None:
    names = pl.Series(["a::f(int)", "a::f(int)", "", None])
    system = pl.Series(["a::f(int)", "_ZN1a1fEi", "b::g()", None])
    got = pprof_function_names(names, system).to_list()
    assert got == ["a::f", "a::f(int)", "b::g", None]


def test_text_reports_shorten_names_and_tables_keep_them(corpus: Path) -> None:
    prof = profilelab.load(corpus / DRIVER_INPUTS / "long_name_funcs.pb.gz")
    text = report(prof, "top", ReportOptions())
    assert "::Bar::Foo" in text and "(anonymous namespace)" not in text
    full = report(prof, "top", ReportOptions(), fmt="csv")
    assert "(anonymous namespace)::Bar::Foo" in full
    short = report(prof, "top", ReportOptions(names="pprof"), fmt="csv")
    assert "(anonymous namespace)" not in short and "::Bar::Foo" in short
    assert "(anonymous namespace)::Bar::Foo" in prof.top()["name"].to_list()


def test_unknown_names_option_is_one_clear_error() -> None:
    with pytest.raises(profilelab.QueryError, match="names 'short' is not one of pprof, full"):
        ReportOptions(names="short").validated()


@pytest.mark.parametrize(
    ("path", "trim", "search", "out"),
    [
        ("/proc/self/cwd/./a/b.go", "", "", "a/b.go"),
        ("/build/x/order-service/main.go", "", "/src/order-service", "main.go"),
        ("/some/path/testdata/source2", "/some/path", "", "testdata/source2"),
        ("/some/path/testdata/source2", "/other:/some/path/", "", "testdata/source2"),
        ("/abs/file.go", "", "", "/abs/file.go"),
    ],
)
def test_trim_path_is_pprofs(path: str, trim: str, search: str, out: str) -> None:
    assert trim_path(path, trim, search) == out


def test_source_reader_searches_parents_and_names_what_it_missed(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "f.go").write_text("one\r\ntwo\nthree", encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    reader = SourceReader(str(deep))
    assert [reader.line("pkg/f.go", n) for n in (1, 2, 3, 4)] == ["one", "two", "three", None]
    assert reader.error("pkg/f.go") is None
    assert reader.line("pkg/missing.go", 1) is None
    assert reader.error("pkg/missing.go") == f"could not find file pkg/missing.go on path {deep}"


def _source_profile(tmp_path: Path) -> Path:
    """A profile of hot.go's ``<hot>`` function, with that source file next to it."""
    b = PprofBuilder((("cpu", "nanoseconds"),))
    hot = b.function("main.<hot>", "/build/src/app/hot.go")
    main_fn = b.function("main.main", "/build/src/app/main.go")
    leaf = b.location(hot, line=3)
    root = b.location(main_fn, line=2)
    b.sample([leaf, root], [30])
    path = tmp_path / "cpu.pb"
    path.write_bytes(b.bytes())
    src = tmp_path / "app"
    src.mkdir()
    (src / "hot.go").write_text('package main\n\nx := a < b && "c"\n', encoding="utf-8")
    return path


def test_list_table_html_and_missing_sources(tmp_path: Path) -> None:
    path = _source_profile(tmp_path)
    prof = profilelab.load(path)
    table = prof.list("hot", source_path=str(tmp_path / "app"))
    assert table.columns == ["function", "file", "line", "flat", "cum", "source"]
    # pprof's heuristic: the search directory's name ("app") is found in the file name
    assert table.filter(pl.col("line") == 3).row(0) == (
        "main.<hot>",
        "hot.go",
        3,
        30,
        30,
        'x := a < b && "c"',
    )
    missing = prof.list("hot", source_path=str(tmp_path / "nowhere"))
    assert missing.select("file", "line", "flat", "source").rows() == [
        ("/build/src/app/hot.go", 3, 30, None)
    ]
    opts = ReportOptions(source_path=str(tmp_path / "app"))
    page = report(prof, "list", opts, fmt="html", regex="hot")
    assert "main.&lt;hot&gt;" in page and "a &lt; b &amp;&amp; &quot;c&quot;" in page
    assert "<hot>" not in page and "<script" not in page


def test_list_cli_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _source_profile(tmp_path)
    assert main(["list", "hot", str(path), "--source-path", str(tmp_path / "app")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Total: 30ns\nROUTINE ======================== main.<hot> in hot.go\n")
    assert '      30ns       30ns      3:x := a < b && "c"\n' in out
    assert main(["list", "hot", str(path), "--source-path", str(tmp_path)]) == 0
    out = capsys.readouterr().out  # absolute and not there: pprof's error, per routine
    assert " Error: open /build/src/app/hot.go: no such file or directory\n" in out
    assert main(["list", "nothing", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == "profilelab: error: no matches found for regexp: nothing\n"


def test_graph_tables_are_the_drawn_graph(corpus: Path) -> None:
    prof = profilelab.load(corpus / DRIVER_INPUTS / "cpu.demangled.pb.gz")
    nodes, edges = prof.graph(nodecount=5)
    dot = report(prof, "dot", ReportOptions(nodecount=5))
    # label nodelets count as nodes when pprof picks the nodes to draw
    assert 1 < nodes.height < 5 and nodes.height == dot.count(' id="node')
    assert nodes["node"].to_list() == list(range(1, nodes.height + 1))
    for src, dest in edges.select("src", "dest").iter_rows():
        assert f"N{src} -> N{dest} [" in dot
    assert edges.height == sum(1 for line in dot.splitlines() if 'labeltooltip="line' in line)


def test_graph_cli_without_graphviz_says_what_is_missing(
    corpus: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = str(corpus / DRIVER_INPUTS / "cpu.demangled.pb.gz")
    assert main(["graph", path, "--format", "svg"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Graphviz's 'dot' program" in err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_cli_draws_svg_and_png(corpus: Path, tmp_path: Path) -> None:
    path = str(corpus / DRIVER_INPUTS / "cpu.demangled.pb.gz")
    assert main(["graph", path, "--format", "svg", "-o", str(tmp_path / "g.svg")]) == 0
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "line1000" in svg
    assert main(["graph", path, "--format", "png", "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shorten_and_colors_are_pprofs() -> None:
    assert shorten("github.com/x/y/v2/pkg.(*T).M") == "pkg.(*T).M"
    assert shorten("java.util.HashMap.get(java.lang.Object)") == "HashMap.get"
    assert shorten("std::foo::Bar::baz<int>") == "Bar::baz<int>"
    assert dot_color(1.0, False) == "#b20000" and dot_color(0.0, True) == "#ededed"


@pytest.mark.parametrize(
    "file",
    [
        "_derived/google-pprof-driver-inputs/cpu.demangled.pb.gz",
        "_derived/google-pprof-driver-inputs/heap.demangled.pb.gz",
        "google-pprof/internal/report/testdata/sample.cpu",
    ],
)
@pytest.mark.parametrize("granularity", ["functions", "lines"])
def test_untrimmed_graph_has_tops_nodes_and_values(
    corpus: Path, file: str, granularity: str
) -> None:
    prof = profilelab.load(corpus / file)
    everything = {"nodecount": 0, "nodefraction": 0.0, "edgefraction": 0.0}
    nodes, edges = prof.graph(granularity=granularity, **everything)
    top = prof.top(granularity=granularity, names="pprof")
    assert sorted(nodes.select("name", "flat", "cum").rows()) == sorted(
        top.select("name", "flat", "cum").rows()
    )
    # every sample's value reaches the roots: no edge carries more than its caller's cum
    cum = dict(nodes.select("node", "cum").iter_rows())
    assert all(abs(w) <= abs(cum[s]) for s, w in edges.select("src", "weight").iter_rows())


def _labelled_profile(tmp_path: Path) -> Path:
    """main -> work, the work samples under eight span labels of equal weight, named in
    reverse order of appearance, each with a 48 KiB numeric ``bytes`` label."""
    b = PprofBuilder((("alloc_space", "bytes"),))
    work = b.location(b.function("main.work"))
    root = b.location(b.function("main.main"))
    for i in reversed(range(8)):
        b.sample([work, root], [100], [("span", f"s{i}"), ("bytes", 49152, "bytes")])
    path = tmp_path / "heap.pb"
    path.write_bytes(b.bytes())
    return path


def test_dot_label_nodelets_of_equal_weight_are_the_first_names(tmp_path: Path) -> None:
    prof = profilelab.load(_labelled_profile(tmp_path))
    dot = report(prof, "dot", ReportOptions())
    drawn = [line.split('"')[1] for line in dot.splitlines() if "shape=box3d" in line]
    # pprof's SortTags: equal weights in name order, the four first drawn
    assert [d for d in drawn if d.startswith("span:")] == [
        "span:s0",
        "span:s1",
        "span:s2",
        "span:s3",
    ]


def test_dot_numeric_nodelets_are_in_the_output_unit(tmp_path: Path) -> None:
    prof = profilelab.load(_labelled_profile(tmp_path))
    for unit, label in (("minimum", "48kB"), ("bytes", "49152B"), ("count", "49152B")):
        dot = report(prof, "dot", ReportOptions(unit=unit))
        assert f'[label = "{label}" ' in dot, unit
        assert "49152B" not in dot or label == "49152B"


def test_reports_of_a_profile_whose_only_sample_has_no_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = PprofBuilder((("threadcreate", "count"),))
    b.sample([], [5])
    path = str(tmp_path / "threadcreate.pb")
    Path(path).write_bytes(b.bytes())
    for argv in (["graph"], ["graph", "--format", "tree"], ["graph", "--format", "callgrind"]):
        assert main([*argv, path]) == 0, argv
        out, err = capsys.readouterr()
        assert out and not err, argv
    assert "Showing nodes accounting for 0, 0% of 5 total" in report(
        profilelab.load(path), "dot", ReportOptions()
    )
    assert main(["top", path]) == 0
    assert "of 5 total" in capsys.readouterr().out
    assert main(["peek", ".", path]) == 1  # pprof's own answer: nothing to peek at
    assert capsys.readouterr().err == "profilelab: error: no matches found for regexp: .\n"
