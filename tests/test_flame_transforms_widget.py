"""FlameGraph call-tree transforms, Python side: the ``transforms`` trait round trip, what
each context-menu transform does to the total, undoing one chip from the middle, notes for
transforms that no longer apply, and the exported view (HTML, static fallback, command)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

import profilelab
from profilelab import core, views
from profilelab.cli import main
from profilelab.views.encode import decode
from tests.flame_support import TRANSFORM_STACKS, Sample, make_profile, pprof_bytes

pytest.importorskip("anywidget")

from profilelab.widgets import FlameGraph

ODD = "std::vector<int>::at(x) [y]"  # regex metacharacters and spaces in a name
EVIL = "<script>window.__pwned=1</script>"
STACKS = [
    *TRANSFORM_STACKS,
    Sample(["main", ODD, "b"], [1, 4]),
    Sample(["main", EVIL], [1, 1], {"region": EVIL}),
]
TOTAL = 32


def exact(name: str) -> str:
    """The menu's exact-name regex (flame.js ``exactRegex``)."""
    return "^" + re.sub(r"([.*+?^${}()|\[\]\\])", r"\\\1", name) + "$"


def package_regex(package: str) -> str:
    """The menu's package regex (transforms.js ``packageRegex``)."""
    return exact(package)[:-1] + ("\\b" if re.search(r"\w$", package) else "")


def tree_of(w: FlameGraph) -> tuple[list[str], np.ndarray, np.ndarray]:
    _, arrays, strings = decode(w._tree)
    return strings, arrays["parent"], arrays["total"]


def paths(w: FlameGraph) -> dict[tuple[str, ...], float]:
    """Every node path of the widget's tree and its total."""
    strings, parent, total = tree_of(w)
    _, arrays, _ = decode(w._tree)
    names = [strings[i] for i in arrays["name"]]
    out: dict[tuple[str, ...], float] = {}
    path: list[tuple[str, ...]] = [()]
    for i in range(1, len(parent)):
        path.append((*path[parent[i]], names[i]))
        out[path[i]] = float(total[i])
    return out


def menu_specs(w: FlameGraph) -> list[tuple[str, str]]:
    """What the context menu offers for every frame of the tree (function granularity)."""
    tree = w.tree
    assert tree is not None
    package = {
        tree.strings[n]: tree.strings[k] for n, k in zip(tree.name, tree.package, strict=True)
    }
    specs = []
    for path in paths(w):
        name = path[-1]
        specs += [
            ("merge_function", exact(name)),
            ("merge_call_node", ";".join(path)),
            ("focus_function", exact(name)),
            ("focus_subtree", ";".join(path)),
            ("drop_function", exact(name)),
            ("collapse_recursion", exact(name)),
            ("collapse_direct_recursion", exact(name)),
        ]
        if package[name]:
            specs.append(("collapse_package", package_regex(package[name])))
    specs.append(("tagroot", "region"))
    specs += [("tagleaf", "region"), ("left_heavy", None)]  # type: ignore[list-item]
    return list(dict.fromkeys(specs))


def through(name_or_path: str, *, prefix: bool) -> int:
    """The cpu total of the samples whose stack has ``name`` (or starts with ``path``)."""
    if prefix:
        want = name_or_path.split(";")
        return sum(s.values[1] for s in STACKS if list(s.stack[: len(want)]) == want)
    return sum(s.values[1] for s in STACKS if name_or_path in s.stack)


def plain(regex: str) -> str:
    return re.sub(r"\\(.)", r"\1", regex[1:-1])


def test_transforms_trait_round_trips_and_redraws() -> None:
    p = make_profile(STACKS)
    specs = [["merge_function", "^b$"], ["left_heavy", None]]
    w = FlameGraph(p, transforms=specs)
    assert w.transforms == specs and w.get_state()["transforms"] == specs
    assert json.loads(json.dumps(w.get_state()["transforms"])) == specs
    expected = views.Selection(p, selection=core.Selection(transforms=specs)).flame()
    strings, _, total = tree_of(w)
    assert "b" not in strings and total[0] == TOTAL == expected.total[0]
    assert w.tree is not None and list(w.tree.total) == list(expected.total)
    # the front end sets the trait as JSON (a list of lists): the same redraw
    w.set_state({"transforms": [["merge_function", "^c$"]]})
    assert "c" not in tree_of(w)[0] and "b" in tree_of(w)[0] and w.error == ""
    assert "--merge-function '^c$'" in w.command
    w.transforms = []
    assert {"b", "c"} <= set(tree_of(w)[0]) and w.transform_notes == []


def test_each_menu_transform_keeps_or_drops_exactly_its_samples() -> None:
    p = make_profile(STACKS)
    w = FlameGraph(p, width_px=4000)
    assert tree_of(w)[2][0] == TOTAL
    seen = set()
    for name, arg in menu_specs(w):
        w.transforms = [[name, arg]]
        assert w.error == "", (name, arg, w.error)
        total = tree_of(w)[2][0]
        seen.add(name)
        if name == "drop_function":
            assert total == TOTAL - through(plain(arg), prefix=False), arg
        elif name == "focus_function":
            assert total == through(plain(arg), prefix=False), arg
        elif name == "focus_subtree":
            assert total == through(arg, prefix=True), arg
        else:
            assert total == TOTAL, (name, arg)
    assert seen == set(core.TRANSFORMS)


def test_transforms_follow_the_sample_type() -> None:
    w = FlameGraph(make_profile(STACKS), transforms=[["drop_function", "^b$"]])
    assert tree_of(w)[2][0] == TOTAL - 10 - 5 - 4
    w.sample_type = "samples"  # one per sample: the three samples through b are gone
    assert tree_of(w)[2][0] == len(STACKS) - 3 and w.transform_notes == [""]
    w.transforms = []
    assert tree_of(w)[2][0] == len(STACKS)
    w.sample_type = "cpu"
    assert tree_of(w)[2][0] == TOTAL


def test_merge_function_and_focus_work_on_names_with_metacharacters() -> None:
    w = FlameGraph(make_profile(STACKS), transforms=[["merge_function", exact(ODD)]])
    assert ODD not in tree_of(w)[0] and tree_of(w)[2][0] == TOTAL
    assert paths(w)[("main", "b")] == 4  # its time went to its caller
    w.transforms = [["focus_subtree", f"main;{ODD}"]]
    assert paths(w) == {(ODD,): 4.0, (ODD, "b"): 4.0}


def test_removing_a_chip_from_the_middle_equals_applying_the_others() -> None:
    p = make_profile(STACKS)
    a = ["merge_function", "^x$"]
    b = ["collapse_recursion", "^a$"]
    c = ["focus_subtree", "main;a"]
    w = FlameGraph(p, transforms=[a, b, c])
    w.transforms = [a, c]  # the chip of b removed
    fresh = FlameGraph(p, transforms=[a, c])
    assert paths(w) == paths(fresh) and w._table == fresh._table
    w.transforms = [b, c]
    assert paths(w) == paths(FlameGraph(p, transforms=[b, c]))


def test_a_transform_that_no_longer_applies_is_named() -> None:
    p = make_profile(STACKS)
    focus = ["focus_subtree", "main;a"]
    merge = ["merge_call_node", "a;b"]
    w = FlameGraph(p, transforms=[focus, merge])
    assert w.transform_notes == ["", ""] and paths(w)[("a", "c")] == 10
    w.transforms = [merge]  # without the focus, no stack starts with a;b
    assert w.transform_notes == ["merge call node a;b changes nothing: nothing matches it any more"]
    assert w.error == "" and tree_of(w)[2][0] == TOTAL
    w.transforms = [["focus_function", "^nowhere$"]]
    assert "leaves no samples" in w.transform_notes[0] and tree_of(w)[2][0] == 0
    w.transforms = [["merge_function", "(("]]
    assert "parsing merge_function regexp" in w.error and w.transform_notes == []


def test_export_carries_the_transforms_and_the_command(tmp_path: Path) -> None:
    path = tmp_path / "cpu.pb.gz"
    path.write_bytes(pprof_bytes(STACKS))
    p = profilelab.load(str(path))
    specs = [["merge_function", exact(EVIL)], ["collapse_recursion", "^a$"], ["left_heavy", None]]
    w = FlameGraph(p, transforms=specs)
    w.granularity = "function"
    w.labels = {"region": "eu"}
    cmd = shlex.split(w.command)
    assert cmd[:3] == ["profilelab", "flame", str(path)]
    assert cmd[cmd.index("--merge-function") + 1] == exact(EVIL) and cmd[-2:] == [
        "-o",
        "flame.html",
    ]
    page = w.to_html(tmp_path / "w.html").read_text()
    assert EVIL not in page and "<li><code>merge_function</code>" in page
    assert "--collapse-recursion" in page and "--left-heavy" in page
    data = json.loads(re.search(r'id="plf-data">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert data["transforms"] == specs
    # the command writes the same view
    out = tmp_path / "cli.html"
    assert main([*cmd[1:-1], str(out)]) == 0
    cli_data = json.loads(re.search(r'id="plf-data">(.*?)</script>', out.read_text()).group(1))  # type: ignore[union-attr]
    assert cli_data["tree"] == data["tree"] and cli_data["transforms"] == specs


def test_static_fallback_names_the_transforms_escaped() -> None:
    w = FlameGraph(make_profile(STACKS), transforms=[["merge_function", exact(EVIL)]])
    bundle = w._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    text = bundle["text/html"]
    assert "transforms: 1. merge function" in text and "--merge-function" in text
    assert EVIL not in text and "&lt;script&gt;" in text
