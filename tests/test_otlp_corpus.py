"""The real OTLP captures of the corpus: totals, events, goldens, versions, the corrupted one.

The pyroscope goldens (AGPL) are read from ``../shared/corpus``, never copied; without the
corpus these tests skip.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from opentelemetry.proto.profiles.v1development import profiles_pb2 as P

import profilelab
from profilelab.readers import otlp
from profilelab.readers._input import open_input

V110 = "grafana-pyroscope/pkg/test/integration/testdata/otel-ebpf-profile"
V18 = "grafana-pyroscope@85b4c078a/pkg/test/integration/testdata/otel-ebpf-profile"
V18_GOLDEN = "grafana-pyroscope@8cc22ed5a/pkg/test/integration/testdata/otel-ebpf-profile.out.json"


def _totals(p: profilelab.Profile) -> dict[str, tuple[int, int]]:
    """(events, value total) per sample type."""
    df = p.sql(
        "select sample_type, count(*)::bigint n, sum(value)::bigint v "
        "from samples join profiles using (profile_id) group by all"
    )
    return {t: (n, v) for t, n, v in df.iter_rows()}


def _upb_totals(path: Path) -> dict[str, tuple[int, int]]:
    """The same totals computed with the protobuf runtime (v1.10 files only), as an oracle."""
    data = P.ProfilesData.FromString(path.read_bytes())
    strings = data.dictionary.string_table
    out: dict[str, list[int]] = {}
    for rp in data.resource_profiles:
        for sp in rp.scope_profiles:
            for prof in sp.profiles:
                acc = out.setdefault(strings[prof.sample_type.type_strindex], [0, 0])
                for s in prof.samples:
                    acc[0] += max(len(s.values), len(s.timestamps_unix_nano), 1)
                    acc[1] += sum(s.values) if s.values else len(s.timestamps_unix_nano)
    return {k: (n, v) for k, (n, v) in out.items()}


def _comparable(p: profilelab.Profile) -> dict[str, pl.DataFrame]:
    """Tables without the ids that depend on the input bytes."""
    samples = p.samples.join(
        p.profiles.select("profile_id", "sample_type", "time_ns"), on="profile_id", suffix="_p"
    )
    return {
        "samples": samples.drop("profile_id").sort(samples.drop("profile_id").columns),
        "stacks": p.stacks.sort("stack_id"),
        "frames": p.frames.sort("frame_id"),
        "labels": p.labels.sort(p.labels.columns),
    }


def test_v110_capture_matches_protobuf_runtime(corpus: Path) -> None:
    path = corpus / f"{V110}.pb.bin"
    p = profilelab.load(path)
    p.check()
    assert len(p) == 82 and set(p.profiles["format"]) == {"otlp"}
    assert _totals(p) == _upb_totals(path)
    # the 10 on-CPU samples carry timestamps and no values: one event each
    assert _totals(p)["samples"] == (10, 10)
    # every event of the capture has its timestamp, inside its profile's time range
    t = p.samples.join(p.profiles.select("profile_id", "time_ns", "duration_ns"), on="profile_id")
    assert t["time_ns"].null_count() == 0
    assert (t["time_ns"] >= t["time_ns_right"] - 1_000_000_000).all()


def test_binary_and_json_captures_give_the_same_tables(corpus: Path) -> None:
    for base in (V110, V18):
        a = _comparable(profilelab.load(corpus / f"{base}.pb.bin"))
        b = _comparable(profilelab.load(corpus / f"{base}.pb.json"))
        for name in a:
            assert a[name].equals(b[name]), (base, name)


def _golden(path: Path) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for s in json.loads(path.read_text())["samples"]:
        key: list[str] = []
        for loc in s["locations"]:
            if "lines" in loc:
                key.extend(loc["lines"])
            else:  # unsymbolized: address and mapping "file(build id)"
                key.append(f"{loc['address']} {loc['mapping'].split(' ', 1)[1]}")
        out[tuple(key)] += int(s["values"])
    return out


def _ours(
    p: profilelab.Profile, sample_type: str, scale_by_period: bool
) -> Counter[tuple[str, ...]]:
    frames = {r["frame_id"]: r for r in p.frames.iter_rows(named=True)}
    maps = {r["mapping_id"]: r for r in p.mappings.iter_rows(named=True)}

    def name(fid: int) -> str:
        f = frames[fid]
        if f["function"] is not None:
            return f"{f['function']}[]@{f['file']}:{f['line']}"
        m = maps.get(f["mapping_id"], {"binary": "", "build_id": ""})
        return f"0x{f['address']:x} {m['binary']}({m['build_id']})"

    stacks = {
        r["stack_id"]: tuple(name(x) for x in r["frame_ids"])
        for r in p.stacks.iter_rows(named=True)
    }
    scale = pl.col("period") if scale_by_period else pl.lit(1)
    df = (
        p.samples.join(p.profiles, on="profile_id")
        .filter(pl.col("sample_type") == sample_type)
        .group_by("stack_id")
        .agg((pl.col("value") * scale).sum())
    )
    out: Counter[tuple[str, ...]] = Counter()
    for stack_id, value in df.iter_rows():
        out[stacks[stack_id]] += value
    return out


def _unnamed_services(p: profilelab.Profile) -> profilelab.Profile:
    """The profiles pyroscope files under service_name="unknown_service": resources without
    process.executable.name (pyroscope names the other three after their executable)."""
    keep = p.profiles.filter(
        ~pl.col("labels")
        .list.eval(pl.element().struct.field("key") == "process.executable.name")
        .list.any()
    )
    return p.replace(
        profiles=keep, samples=p.samples.join(keep.select("profile_id"), on="profile_id")
    )


def test_v110_capture_matches_pyroscope_goldens(corpus: Path) -> None:
    p = profilelab.load(corpus / f"{V110}.pb.bin")
    # on-CPU: pyroscope reports count x period (50 ms) as cpu nanoseconds
    cpu = _golden(corpus / f"{V110}-cpu.out.json")
    assert _ours(p, "samples", scale_by_period=True) == cpu
    assert sum(cpu.values()) == 500_000_000
    off = _golden(corpus / f"{V110}-offcpu.out.json")
    assert _ours(_unnamed_services(p), "off_cpu", scale_by_period=False) == off
    assert sum(off.values()) == 250_725_419_905


def test_v18_capture_is_read_as_v18_and_matches_its_golden(corpus: Path) -> None:
    # Binary v1.8 and v1.9 differ only in fields this capture lacks; its JSON names are v1.8.
    for suffix, version in ((".pb.bin", "1.8/1.9"), (".pb.json", "1.8")):
        path = corpus / f"{V18}{suffix}"
        assert otlp.decode(open_input(path)).version == version
        p = profilelab.load(path)
        p.check()
        assert len(p) == 5
        assert _totals(p)["samples"] == (10, 10)
        assert _ours(p, "samples", scale_by_period=True) == _golden(corpus / V18_GOLDEN)
    # build ids come from the process.executable.build_id.gnu mapping attribute
    assert "16e7fc798f754633a38d91ba09be84f8aa839464" in set(p.mappings["build_id"])


def test_v18_capture_keeps_sample_attributes_and_frame_types(corpus: Path) -> None:
    p = profilelab.load(corpus / f"{V18}.pb.bin")
    keys = set(p.labels["key"])
    assert {"thread.name", "process.pid", "profile.frame.type"} <= keys
    assert {"go", "kernel", "native", "v8js"} <= set(
        p.labels.filter(pl.col("key") == "profile.frame.type")["str"]
    )


@pytest.mark.parametrize("suffix", [".pb.bin", ".pb.json"])
def test_corrupted_capture_fails_clearly(corpus: Path, suffix: str) -> None:
    path = corpus / f"{V18}-corrupted{suffix}"
    with pytest.raises(profilelab.FormatError) as err:
        profilelab.load(path)
    msg = str(err.value)
    assert str(path) in msg and "invalid stack index 1000000000" in msg and "v1.8" in msg


def test_ottl_playground_documents(corpus: Path) -> None:
    old = profilelab.load(corpus / "elastic-ottl-playground/testdata/profiles.json")
    new = profilelab.load(corpus / "elastic-ottl-playground@3179348d/testdata/profiles.json")
    for p in (old, new):
        p.check()
        assert p.samples["value"].sum() == 13
        labels = p.profiles["labels"][0].to_list()
        assert {"key": "resource-attr", "value": "resource-attr-val-1"} in labels
        # the profile id is hex in OTLP/JSON (json_format would have read it as base64)
        assert {"key": "otlp.profile_id", "value": "0102030405060708090a0b0c0d0e0f10"} in labels
    stacks = new.sql(
        "select list(f.function order by u.i) names from stacks s, unnest(s.frame_ids) "
        "with ordinality u(frame_id, i) join frames f using (frame_id) group by s.stack_id"
    )
    assert sorted(stacks["names"].to_list()) == [["bar", "foo", "main"], ["bazinga", "main"]]
    assert new.labels.select("key", "str").rows() == [("key", "value")]
