"""speedscope writer/reader and the Chrome .cpuprofile reader."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import profilelab
from profilelab import FormatError, QueryError
from profilelab.writers import format_for_path, write
from profilelab.writers.pprof import encode
from tests._pprof_tools import HOSTILE, go_pprof, hostile_profile, top

UNITS = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}


def speedscope(profile: profilelab.Profile, **kw: object) -> bytes:
    out = io.BytesIO()
    write(profile, out, "speedscope", **kw)  # type: ignore[arg-type]
    return out.getvalue()


def check_schema(doc: dict[str, Any]) -> None:
    """The constraints of speedscope's file-format-spec.ts for sampled profiles."""
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    for f in frames:
        assert isinstance(f["name"], str)
        assert set(f) <= {"name", "file", "line", "col"}
        assert isinstance(f.get("file", ""), str)
        assert isinstance(f.get("line", 0), int) and isinstance(f.get("col", 0), int)
    assert 0 <= doc["activeProfileIndex"] < len(doc["profiles"])
    assert isinstance(doc["name"], str) and isinstance(doc["exporter"], str)
    for p in doc["profiles"]:
        assert p["type"] == "sampled" and isinstance(p["name"], str) and p["unit"] in UNITS
        assert p["endValue"] >= p["startValue"]
        assert len(p["samples"]) == len(p["weights"])
        assert all(w > 0 for w in p["weights"])
        assert all(0 <= i < len(frames) for s in p["samples"] for i in s)


@pytest.mark.parametrize(
    "name",
    [
        "jlfwong-speedscope/sample/profiles/pprof/simple.prof",
        "google-pprof/internal/report/testdata/sample.cpu",
        "laixintao-flameshow/tests/pprof_data/heap.out",
        "google-pprof/profile/testdata/java.cpu",
    ],
)
def test_speedscope_round_trip_keeps_every_types_top(corpus: Path, name: str) -> None:
    original = profilelab.load(corpus / name)
    data = speedscope(original)
    doc = json.loads(data)
    check_schema(doc)
    assert len(doc["profiles"]) == original.profiles.height  # one per sample type
    again = profilelab.load(data)  # sniffed by content
    again.check()
    assert again.profiles["format"].unique().to_list() == ["speedscope"]
    for i, row in enumerate(original.profiles.iter_rows(named=True)):
        got = again.replace(profiles=again.profiles[i])
        want = original.replace(profiles=original.profiles[i])
        assert top(got) == top(want), row["sample_type"]
        total = want.samples.join(want.profiles, on="profile_id")["value"].sum()
        assert doc["profiles"][i]["endValue"] == total


def test_speedscope_units_and_active_profile(corpus: Path) -> None:
    heap = profilelab.load(corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/heap.pb.gz")
    doc = json.loads(speedscope(heap))
    assert [p["unit"] for p in doc["profiles"]] == ["none", "bytes", "none", "bytes"]
    assert doc["activeProfileIndex"] == 3  # inuse_space, pprof's default
    one = json.loads(speedscope(heap, sample_type="alloc_space"))
    assert len(one["profiles"]) == 1 and one["profiles"][0]["name"].endswith("alloc_space")
    assert format_for_path("x/heap.speedscope.json") == "speedscope"


def test_hostile_names_survive_speedscope() -> None:
    data = speedscope(hostile_profile())
    assert b"<" not in data and b">" not in data  # safe to embed in HTML
    check_schema(json.loads(data))
    again = profilelab.load(data)
    assert set(again.frames["function"].to_list()) == set(HOSTILE)


def test_speedscope_refuses_negative_weights(corpus: Path) -> None:
    new = profilelab.load(corpus / "google-pprof/internal/report/testdata/sample.cpu")
    base = profilelab.load(corpus / "parca-dev-parca/pkg/query/testdata/fib.pb.gz")
    with pytest.raises(QueryError, match="negative weights"):
        speedscope(profilelab.load(encode(new, base=base)))


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ('{"$schema":"https://www.speedscope.app/file-format-schema.json",', "not valid JSON"),
        (
            '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":'
            '[{"name":"a"}]},"profiles":[{"type":"evented","events":[{"type":"C","frame":0,'
            '"at":1}]}]}',
            "closes a frame that is not open",
        ),
        (
            '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":'
            '[{"name":"a"},{"name":"b"}]},"profiles":[{"type":"evented","events":[{"type":"O",'
            '"frame":0,"at":1},{"type":"C","frame":1,"at":2}]}]}',
            "does not match the innermost open frame",
        ),
        (
            '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":'
            '[{"name":"a"}]},"profiles":[{"type":"evented","events":[{"type":"O","frame":0,'
            '"at":5},{"type":"C","frame":0,"at":2}]}]}',
            "must not decrease",
        ),
        (
            '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":'
            '[{"name":"a"}]},"profiles":[{"type":"flame"}]}',
            "unknown profile type 'flame'",
        ),
        (
            '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":'
            '[{"name":"a"}]},"profiles":[{"type":"sampled","samples":[[0,3]],"weights":[1]}]}',
            "frame index out of range",
        ),
        (
            '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":'
            '[{"name":"a"}]},"profiles":[{"type":"sampled","samples":[[0]],"weights":[]}]}',
            "1 samples but 0 weights",
        ),
        (
            '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":'
            '[{"name":7}]},"profiles":[]}',
            "needs a string 'name'",
        ),
    ],
)
def test_malformed_speedscope_fails_clearly(doc: str, expected: str) -> None:
    with pytest.raises(FormatError) as err:
        profilelab.load(doc.encode(), name="bad.json")
    assert str(err.value).startswith("bad.json: ") and expected in str(err.value)


def test_evented_speedscope_becomes_weighted_samples() -> None:
    events = [
        ("O", 0, 0), ("O", 1, 1), ("O", 2, 2.5), ("C", 2, 3), ("C", 1, 4),
        ("O", 2, 5), ("C", 2, 7), ("C", 0, 9),
    ]  # fmt: skip
    doc = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": [{"name": "main"}, {"name": "a", "line": 3}, {"name": "b"}]},
        "profiles": [
            {
                "type": "evented", "name": "request", "unit": "milliseconds",
                "startValue": 0, "endValue": 10,
                "events": [{"type": t, "frame": f, "at": at} for t, f, at in events],
            }
        ],
    }  # fmt: skip
    p = profilelab.load(json.dumps(doc).encode())
    p.check()
    assert p.profiles.select("sample_type", "sample_unit").row(0) == ("time", "nanoseconds")
    assert top(p) == {
        "main": (4_000_000, 9_000_000),
        "a": (2_500_000, 3_000_000),
        "b": (2_500_000, 2_500_000),
    }
    assert p.stacks.height == 4  # main, main>a, main>a>b, main>b
    assert p.profiles["labels"].to_list() == [[{"key": "speedscope.profile", "value": "request"}]]


# ---- Chrome / V8 .cpuprofile ------------------------------------------------------------------


def node(id_: int, name: str, url: str = "", line: int = -1, **kw: Any) -> dict[str, Any]:
    frame = {
        "functionName": name,
        "scriptId": "1",
        "url": url,
        "lineNumber": line,
        "columnNumber": 2,
    }
    return {"id": id_, "callFrame": frame, **kw}


CPUPROFILE = {
    "nodes": [
        node(1, "(root)", hitCount=0, children=[2, 3, 6]),
        node(2, "main", "file:///srv/app.js", 9, hitCount=1, children=[4]),
        node(3, "(garbage collector)", hitCount=2),
        node(4, "", "file:///srv/app.js", 19, hitCount=3, children=[5]),
        node(5, "<b>render</b>", "file:///srv/view.js", 0, hitCount=4),
        node(6, "(idle)", hitCount=0),
    ],
    "startTime": 5_000_000,
    "endTime": 5_000_100,
    "samples": [2, 4, 5, 5, 3, 6],
    "timeDeltas": [10, 10, 20, 5, 25, 10],
}


def test_cpuprofile_samples_become_timed_samples() -> None:
    p = profilelab.load(json.dumps(CPUPROFILE).encode(), name="app.cpuprofile")
    p.check()
    assert p.profiles.select("sample_type", "sample_unit").rows() == [
        ("samples", "count"),
        ("wall", "microseconds"),
    ]
    assert p.profiles["duration_ns"].to_list() == [100_000, 100_000]
    wall = p.samples.join(p.profiles.filter(pl.col("sample_type") == "wall"), on="profile_id")
    assert wall["value"].to_list() == [10, 20, 5, 25, 10, 20]  # gap to the next sample
    assert wall["time_ns"].to_list() == [
        t * 1000 for t in (5_000_010, 5_000_020, 5_000_040, 5_000_045, 5_000_070, 5_000_080)
    ]
    assert top(p, "samples") == {
        "main": (1, 4),
        "(anonymous)": (1, 3),
        "<b>render</b>": (2, 2),
        "(garbage collector)": (1, 1),
        "(idle)": (1, 1),
    }
    frames = p.frames.filter(pl.col("function") == "main").row(0, named=True)
    assert (frames["file"], frames["line"], frames["column"]) == ("file:///srv/app.js", 10, 3)
    assert "(root)" not in p.frames["function"].to_list()


def test_cpuprofile_with_hit_counts_only_and_parent_links() -> None:
    nodes = [
        {k: v for k, v in n.items() if k != "children"}
        for n in CPUPROFILE["nodes"]  # type: ignore[attr-defined]
    ]
    parents = {2: 1, 3: 1, 4: 2, 5: 4, 6: 1}
    for n in nodes:
        if n["id"] in parents:
            n["parent"] = parents[n["id"]]
    p = profilelab.load(json.dumps({"nodes": nodes}).encode())
    p.check()
    assert p.profiles["sample_type"].to_list() == ["samples"]
    assert p.samples["value"].sum() == 1 + 2 + 3 + 4
    assert top(p)["main"] == (1, 8)


def test_cpuprofile_speedscope_keeps_time_order() -> None:
    p = profilelab.load(json.dumps(CPUPROFILE).encode())
    doc = json.loads(speedscope(p, sample_type="wall"))
    check_schema(doc)
    assert doc["profiles"][0]["weights"] == [10, 20, 5, 25, 10, 20]
    assert doc["profiles"][0]["unit"] == "microseconds"


@pytest.mark.golang
def test_cpuprofile_to_pprof_matches_go(tmp_path: Path) -> None:
    p = profilelab.load(json.dumps(CPUPROFILE).encode())
    out = tmp_path / "app.pb.gz"
    out.write_bytes(encode(p))
    report = go_pprof("-top", "-sample_index=wall", out)
    assert "Showing nodes accounting for 90us, 100% of 90us total" in report


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"nodes": [node(1, "a", children=[1])]}, "cycle"),
        ({"nodes": [node(1, "a", children=[9])]}, "unknown node 9"),
        ({"nodes": [node(1, "a"), node(1, "b")]}, "duplicate node ids"),
        (
            {"nodes": [node(1, "a")], "samples": [1, 7], "startTime": 0, "timeDeltas": [1, 1]},
            "unknown node 7",
        ),
        (
            {"nodes": [node(1, "a")], "samples": [1], "startTime": 0, "timeDeltas": [1, 2]},
            "1 samples but 2 timeDeltas",
        ),
        ({"nodes": [node(1, "a")], "samples": ["x"]}, "'samples' must be a list of integers"),
        ({"nodes": [{"id": 1}, {"callFrame": {}}]}, "has no 'callFrame'"),
    ],
)
def test_malformed_cpuprofile_fails_clearly(doc: dict[str, Any], expected: str) -> None:
    data = json.dumps(doc).encode()
    with pytest.raises(FormatError) as err:
        profilelab.load(data, name="bad.cpuprofile")
    assert str(err.value).startswith("bad.cpuprofile: ") and expected in str(err.value)


def test_truncated_json_is_a_clear_error() -> None:
    data = json.dumps(CPUPROFILE).encode()[:200]
    with pytest.raises(FormatError, match=r"^cut\.cpuprofile: \.cpuprofile is not valid JSON"):
        profilelab.load(data, name="cut.cpuprofile")
