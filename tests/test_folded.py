"""Folded stacks: reader (sniffed by content), writer, round trips, hostile names."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

import profilelab
from profilelab import FormatError, QueryError
from profilelab.writers import write
from profilelab.writers.pprof import encode
from tests._pprof_tools import go_pprof, hostile_profile, top

ROUND_TRIP = [
    "google-pprof/internal/report/testdata/sample.cpu",
    "google-pprof/internal/proftest/testdata/large.cpu",
    "google-pprof/profile/testdata/cppbench.heap",
    "grafana-pyroscope/pkg/pprof/testdata/profile_python",
    "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz",
    "parca-dev-parca/pkg/query/testdata/alloc_objects.pb.gz",
    "_derived/google-pprof-driver-inputs/heap_tags.pb.gz",
]


def folded(profile: profilelab.Profile, **kw: object) -> bytes:
    out = io.BytesIO()
    write(profile, out, "folded", **kw)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_write_then_read_gives_the_same_top(corpus: Path, name: str) -> None:
    original = profilelab.load(corpus / name)
    again = profilelab.load(folded(original))  # no file name: sniffed by content
    again.check()
    assert again.profiles["format"].to_list() == ["folded"]
    assert top(again) == top(original)


def test_reader_handles_real_looking_input() -> None:
    text = (
        "# collapsed by a profiler\n"
        "main;net/http.(*conn).serve;handler (server.go:42) 7\r\n"
        "\n"
        "main;net/http.(*conn).serve;handler (server.go:42)\t3\n"
        "main;gc  5\n"
        "main 1\n"
        "  main;;worker   2  \n"
    )
    p = profilelab.load(text.encode(), name="stacks.txt")
    p.check()
    assert p.profiles.select("sample_type", "sample_unit").row(0) == ("samples", "count")
    assert p.samples["value"].to_list() == [7, 3, 5, 1, 2]
    assert top(p) == {
        "main": (1, 18),
        "net/http.(*conn).serve": (0, 10),
        "handler (server.go:42)": (10, 10),
        "gc": (5, 5),
        "worker": (2, 2),
    }
    assert p.stacks["depth"].max() == 3


def test_sniffing_uses_content_not_names(corpus: Path) -> None:
    data = folded(profilelab.load(corpus / "google-pprof/internal/report/testdata/sample.cpu"))
    assert profilelab.load(data, name="cpu.pb.gz").profiles["format"][0] == "folded"
    legacy = corpus / "google-pprof/profile/testdata/go.godoc.thread"  # "N @ 0x.." lines
    assert profilelab.load(legacy).profiles["format"][0] == "pprof-legacy"


def test_sniffing_text_that_is_not_folded_stops_at_its_first_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from profilelab.readers import sniff

    decoded: list[int] = []
    real = sniff._text_lines

    def counting(head: bytes):  # type: ignore[no-untyped-def]
        for line in real(head):
            decoded.append(len(line))
            yield line

    monkeypatch.setattr(sniff, "_text_lines", counting)
    not_folded = b"\x01\x02 binary record\n" * 200
    assert not sniff.looks_like_folded(not_folded)
    assert len(decoded) == 1
    decoded.clear()
    folded = b"main;work 3\n" * 10 + b"main;damaged line\n" + b"main 1\n" * 1000
    assert sniff.looks_like_folded(folded)
    assert len(decoded) == 21  # the 20 lines checked, and the next (it may be the cut one)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("main;a 1\nmain;b 2.5\n", "line 2 is not 'frame;frame;... count': 'main;b 2.5'"),
        ("main;a 1\nmain;b\n", "line 2"),
        ("main;a 1\nmain;b -4\n", "line 2"),
        ("main;a 1\nmain;b 99999999999999999999\n", "line 2"),
    ],
)
def test_malformed_lines_name_the_line(text: str, expected: str) -> None:
    with pytest.raises(FormatError) as err:
        profilelab.load(text.encode(), name="bad.folded")
    assert str(err.value).startswith("bad.folded: folded stacks: ") and expected in str(err.value)


def test_empty_and_garbage_inputs_fail_clearly() -> None:
    with pytest.raises(FormatError, match=r"^x\.folded: empty input"):
        profilelab.load(b"", name="x.folded")
    with pytest.raises(FormatError, match=r"^x\.folded: unrecognized format"):
        profilelab.load(b"\x00\x01\x02garbage", name="x.folded")
    with pytest.raises(FormatError, match=r"^x\.folded: unrecognized format"):
        profilelab.load(b"just some words\n", name="x.folded")


def test_hostile_names_survive_folded_as_documented() -> None:
    p = hostile_profile()
    text = folded(p).decode()
    assert text.count("\n") == 2  # one line per stack, however hostile the names
    again = profilelab.load(text.encode())
    names = set(again.frames["function"].to_list())
    assert names == {
        "<script>alert('x')</script>",
        'say "hi": rm -rf /',
        "multi line  name",
        "a:b:c",
        "tab\there 42",
    }
    assert top(again) == top(p)


def test_negative_totals_are_refused(corpus: Path) -> None:
    new = profilelab.load(corpus / "google-pprof/internal/report/testdata/sample.cpu")
    base = profilelab.load(corpus / "parca-dev-parca/pkg/query/testdata/fib.pb.gz")
    diff = profilelab.load(encode(new, base=base))
    with pytest.raises(QueryError, match="negative totals"):
        folded(diff)


def test_several_types_need_a_choice(corpus: Path) -> None:
    both = profilelab.load(
        [
            corpus / "google-pprof/internal/report/testdata/sample.cpu",
            corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/heap.pb.gz",
        ]
    )
    with pytest.raises(QueryError, match="--sample-index"):
        folded(both)
    cpu = profilelab.load(folded(both, sample_type="cpu"))
    assert cpu.samples["value"].sum() == 1_760_000_000
    heap = profilelab.load(corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/heap.pb.gz")
    default = heap.profiles.filter(pl.col("is_default"))["sample_type"][0]
    assert top(profilelab.load(folded(heap))) == top(heap, default)


@pytest.mark.golang
def test_folded_to_pprof_matches_go_top(corpus: Path, tmp_path: Path) -> None:
    """folded -> pprof: go tool pprof -top shows the flat/cum the folded text implies."""
    src = profilelab.load(corpus / "google-pprof/internal/report/testdata/sample.cpu")
    out = tmp_path / "from-folded.pb.gz"
    out.write_bytes(encode(profilelab.load(folded(src))))
    report = go_pprof("-top", "-nodecount=1000", out).splitlines()
    rows = report[report.index("      flat  flat%   sum%        cum   cum%") + 1 :]
    got = {}
    for row in rows:
        flat, _, _, cum, _, name = row.split(maxsplit=5)
        got[name] = (int(flat), int(cum))
    assert got == top(src)


def test_samples_without_frames_keep_their_value() -> None:
    """A sample with an empty stack is written as ' N' (empty stack), not dropped."""
    data = b"--- contentionz 1 ---\nsampling period = 100\n  1000 2 @\n  10 1 @ 0x401001\n"
    p = profilelab.load(data, name="contention.txt")
    text = folded(p, sample_type="delay").decode()
    assert text.splitlines() == [" 1000", "0x401000 10"]
    again = profilelab.load(text.encode())
    assert again.samples["value"].sum() == 1010
