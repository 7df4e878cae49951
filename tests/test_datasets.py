"""The shipped datasets load, carry their index labels, and show the effects they were made for.

Every number here is computed from the committed profiles with Polars group-bys; the
thresholds are generous so that regenerated datasets (statistically similar, not
identical) still pass.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import polars as pl
import pytest

import profilelab.datasets as ds
from profilelab import Profile
from profilelab.errors import QueryError

ROOT = Path(__file__).resolve().parent.parent

# dataset -> (number of files, {label: {value: files}})
EXPECTED = {
    "checkout-api": (6, {"variant": {"before": 3, "after": 3}}),
    "heap-leak": (12, {"service": {"session-api": 12}}),
    "goroutine-leak": (24, {"variant": {"leaking": 12, "fixed": 12}}),
    "order-service": (
        48,
        {
            "version": {"v2.3.5": 24, "v2.3.6": 24},
            "region": {"us-east-1": 24, "eu-west-1": 24},
            "instance": {f"order-{r}-{i}": 12 for r in ("use1", "euw1") for i in (0, 1)},
        },
    ),
    "traced-order-service": (4, {"version": {"v2.3.5": 4}}),
    "java-service": (6, {"service": {"java-service": 6}}),
    "traced-detour-service": (3, {"version": {"v2.3.5": 3}}),
}


@cache
def loaded(name: str) -> Profile:
    return ds.load(name)


# ---- helpers: plain group-bys over the canonical tables -------------------------------


def profile_label(key: str) -> pl.Expr:
    """The value of profile label ``key`` (null when absent)."""
    return (
        pl.col("labels")
        .list.eval(pl.element().filter(pl.element().struct.field("key") == key))
        .list.first()
        .struct.field("value")
        .alias(key)
    )


def stacks_with(p: Profile, pattern: str) -> pl.DataFrame:
    """Ids of the stacks that contain a frame whose function matches ``pattern``."""
    frames = p.frames.filter(pl.col("function").str.contains(pattern)).select("frame_id")
    return (
        p.stacks.explode("frame_ids")
        .join(frames, left_on="frame_ids", right_on="frame_id")
        .select("stack_id")
        .unique()
    )


def samples_of(p: Profile, sample_type: str, *labels: str) -> pl.DataFrame:
    """Samples of one sample type with their profile's time and the given profile labels."""
    profiles = p.profiles.filter(pl.col("sample_type") == sample_type).select(
        "profile_id",
        "source",
        pl.col("time_ns").alias("profile_time_ns"),
        *map(profile_label, labels),
    )
    return p.samples.join(profiles, on="profile_id")


def cum_share(p: Profile, pattern: str, by: str, sample_type: str = "cpu") -> dict[str, float]:
    """Per value of profile label ``by``: share of the total in stacks that contain ``pattern``."""
    hit = stacks_with(p, pattern).with_columns(pl.lit(True).alias("hit"))
    df = samples_of(p, sample_type, by).join(hit, on="stack_id", how="left")
    shares = df.group_by(by).agg(
        (pl.col("value").filter(pl.col("hit")).sum() / pl.col("value").sum()).alias("share")
    )
    return dict(zip(shares[by], shares["share"].fill_null(0.0), strict=True))


def per_profile(p: Profile, pattern: str, sample_type: str, *labels: str) -> pl.DataFrame:
    """Per profile, in time order: the value in stacks containing ``pattern`` and the total."""
    hit = stacks_with(p, pattern).with_columns(pl.lit(True).alias("hit"))
    df = samples_of(p, sample_type, *labels).join(hit, on="stack_id", how="left")
    return (
        df.group_by("profile_id", "source", "profile_time_ns", *labels)
        .agg(
            pl.col("value").filter(pl.col("hit")).sum().alias("hit"),
            pl.col("value").sum().alias("total"),
        )
        .sort("profile_time_ns")
    )


# ---- every dataset -------------------------------------------------------------------------


def test_list_names_every_dataset() -> None:
    assert ds.list() == sorted(EXPECTED)
    for name in EXPECTED:
        assert ds.path(name) == ds.root() / name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_loads_with_index_labels_in_time_order(name: str) -> None:
    p = loaded(name)
    p.check()
    index = ds.index(name)
    files, label_counts = EXPECTED[name]
    assert index.height == files
    assert index["start_time"].is_sorted()
    assert p.profiles["source"].n_unique() == files
    # Every profile carries its row's labels; counts per label value match the design.
    per_file = p.profiles.unique("source").select(
        "source", "time_ns", *(profile_label(k) for k in ds.label_columns(index))
    )
    for key, counts in label_counts.items():
        assert dict(per_file[key].value_counts().iter_rows()) == counts
    joined = per_file.with_columns(
        pl.col("source").str.strip_prefix(f"{name}/").alias("file")
    ).join(index, on="file", validate="1:1")
    for key in ds.label_columns(index):
        assert (joined[key] == joined[f"{key}_right"]).all(), key
    # The runtime's own time stamp agrees with the index (within a second).
    drift = (joined["time_ns"] - joined["start_time"].dt.epoch("ns")).abs()
    assert drift.max() < 1_000_000_000


def test_filters_select_profiles_and_bad_filters_are_named() -> None:
    p = ds.load("order-service", version="v2.3.6", region=["eu-west-1"])
    labels = p.profiles.select(profile_label("version"), profile_label("region")).unique()
    assert labels.rows() == [("v2.3.6", "eu-west-1")]
    assert p.profiles["source"].n_unique() == 12
    rows = ds.index("order-service", version="v2.3.6", region=["eu-west-1"])
    assert sorted("order-service/" + rows["file"]) == sorted(p.profiles["source"].unique())
    with pytest.raises(QueryError, match=r"no profile with version in \['v9'\].*v2\.3\.5"):
        ds.load("order-service", version="v9")
    with pytest.raises(QueryError, match=r"no label 'colour'.*instance"):
        ds.load("order-service", colour="red")


def test_unknown_dataset_and_missing_data_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ds.DatasetError, match=r"unknown dataset 'nope'.*order-service"):
        ds.load("nope")
    monkeypatch.setenv(ds.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(ds.DatasetError, match="not a directory"):
        ds.list()
    monkeypatch.setenv(ds.ENV_VAR, str(tmp_path))
    assert ds.list() == []
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "index.csv").write_text("file,start_time\nx.pb.gz,yesterday\n")
    with pytest.raises(ds.DatasetError, match="bad start_time"):
        ds.load("broken")


def test_installed_package_without_data_says_where_the_data_is(tmp_path: Path) -> None:
    # An installed package has no datasets/ above it: copy the package somewhere alone.
    site = tmp_path / "site"
    shutil.copytree(ROOT / "profilelab", site / "profilelab")
    env = {k: v for k, v in os.environ.items() if k != ds.ENV_VAR}
    env["PYTHONPATH"] = str(site)
    code = (
        "import profilelab.datasets as d\ntry:\n d.list()\nexcept d.DatasetError as e:\n print(e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "not part of the installed package" in out.stdout
    assert ds.ENV_VAR in out.stdout


# ---- checkout-api ----------------------------------------------------------------------


def test_checkout_api_serialization_cost_drops_after_the_optimization() -> None:
    p = loaded("checkout-api")
    json_share = cum_share(p, r"^encoding/json\.", "variant")
    map_encode = cum_share(p, r"^encoding/json\.mapEncoder\.encode$", "variant")
    assert json_share["before"] > 0.35
    assert json_share["after"] < json_share["before"] / 4
    assert map_encode["before"] > 0.2 and map_encode["after"] < 0.01
    # CPU per request: from the profiles' totals and the index's request counts.
    cpu = samples_of(p, "cpu", "variant").group_by("variant").agg(pl.col("value").sum())
    requests = ds.index("checkout-api").group_by("variant").agg(pl.col("n_requests").sum())
    per_request = dict(
        cpu.join(requests, on="variant")
        .select("variant", pl.col("value") / pl.col("n_requests"))
        .iter_rows()
    )
    assert per_request["after"] < per_request["before"] / 2


# ---- heap-leak -----------------------------------------------------------------------------


def test_heap_leak_inuse_of_session_cache_put_grows_and_the_control_is_flat() -> None:
    p = loaded("heap-leak")
    leak = per_profile(p, r"^main\.\(\*SessionCache\)\.Put$", "inuse_space")
    assert leak.height == 12 and leak["profile_time_ns"].is_sorted()
    grown = leak["hit"].to_list()
    assert all(b >= 0.9 * a for a, b in itertools.pairwise(grown)), grown
    assert grown[-1] > 6 * grown[0]
    assert (leak["hit"] / leak["total"])[-1] > 0.6  # the leak is most of the heap in the end
    ring = per_profile(p, r"^main\.\(\*RecentPages\)\.Add$", "inuse_space")["hit"][2:]
    assert ring.max() < 2 * ring.min()
    # alloc_space tells the other story: page rendering allocates far more than the leak.
    churn = per_profile(p, r"^main\.renderPage$", "alloc_space")["hit"]
    assert churn[-1] > 5 * per_profile(p, r"Put$", "alloc_space")["hit"][-1]


# ---- goroutine-leak ------------------------------------------------------------------------


def test_goroutine_leak_watchers_grow_and_the_fixed_variant_is_flat() -> None:
    p = loaded("goroutine-leak")
    watchers = per_profile(p, r"^main\.startWatcher\.func1$", "goroutine", "variant")
    workers = per_profile(p, r"^main\.worker$", "goroutine", "variant")
    leaking = watchers.filter(pl.col("variant") == "leaking")["hit"]
    fixed = watchers.filter(pl.col("variant") == "fixed")["hit"]
    assert leaking.diff().drop_nulls().min() > 0  # strictly growing
    assert leaking[-1] - leaking[0] > 300
    assert fixed.max() - fixed.min() <= 5
    assert set(workers["hit"]) == {8}  # the stable control pool


# ---- order-service -------------------------------------------------------------------------


def test_order_service_samples_carry_the_same_labels_as_the_index() -> None:
    p = loaded("order-service")
    keys = ["service", "version", "instance", "region"]
    pprof_labels = (
        p.labels.filter(pl.col("key").is_in(keys))
        .pivot(on="key", index="label_set_id", values="str")
        .rename({k: f"{k}_sample" for k in keys})
    )
    cpu = samples_of(p, "cpu", *keys)
    labelled = cpu.join(pprof_labels, on="label_set_id")
    # Worker goroutines run under pprof.Do: nearly all CPU is labelled (the rest is GC).
    assert labelled["value"].sum() > 0.9 * cpu["value"].sum()
    for key in keys:
        assert (labelled[key] == labelled[f"{key}_sample"]).all(), key


def test_order_service_v236_spends_much_more_in_db_query() -> None:
    p = loaded("order-service")
    db = cum_share(p, r"^main\.\(\*DB\)\.Query$", "version")
    assert db["v2.3.6"] > 2 * db["v2.3.5"]
    assert db["v2.3.5"] < 0.15 and db["v2.3.6"] > 0.15
    validate = cum_share(p, r"^main\.validateOrder$", "version")
    assert validate["v2.3.5"] == 0 and validate["v2.3.6"] > 0.01
    encode = cum_share(p, r"^encoding/json\.Marshal$", "version")
    assert encode["v2.3.6"] > encode["v2.3.5"]
    # Every instance shows the regression, not just the fleet total.
    per_instance = per_profile(p, r"^main\.\(\*DB\)\.Query$", "cpu", "instance", "version")
    shares = per_instance.group_by("instance", "version").agg(
        (pl.col("hit").sum() / pl.col("total").sum()).alias("share")
    )
    wide = shares.pivot(on="version", index="instance", values="share")
    assert (wide["v2.3.6"] > 1.5 * wide["v2.3.5"]).all()


# ---- traced-order-service -----------------------------------------------------------------


@cache
def spans() -> pl.DataFrame:
    (path,) = ds.traces("traced-order-service")
    doc = json.loads(gzip.decompress(path.read_bytes()))
    rows = [
        {
            "trace_id": s["traceId"],
            "span_id": s["spanId"],
            "parent_span_id": s.get("parentSpanId"),
            "name": s["name"],
            "start_ns": int(s["startTimeUnixNano"]),
            "end_ns": int(s["endTimeUnixNano"]),
        }
        for rs in doc["resourceSpans"]
        for ss in rs["scopeSpans"]
        for s in ss["spans"]
    ]
    return pl.DataFrame(rows).with_columns((pl.col("end_ns") - pl.col("start_ns")).alias("dur"))


def test_trace_file_is_otlp_json() -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    (path,) = ds.traces("traced-order-service")
    doc = json.loads(gzip.decompress(path.read_bytes()))
    # OTLP/JSON writes ids as hex; protobuf's own JSON mapping wants base64: convert, then
    # let the real proto schema check every field name and type.
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = base64.b64encode(bytes.fromhex(s[key])).decode()
    data = json_format.ParseDict(doc, TracesData())
    resource = {a.key: a.value.string_value for a in data.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "order-service"
    first = data.resource_spans[0].scope_spans[0].spans[0]
    assert len(first.trace_id) == 16 and len(first.span_id) == 8
    assert first.start_time_unix_nano > 1_600_000_000 * 10**9


def test_trace_tree_is_consistent() -> None:
    s = spans()
    assert s["span_id"].is_unique().all()
    assert set(s["name"]) == {"order.handle", "db.query", "pricing.compute", "json.encode"}
    roots = s.filter(pl.col("parent_span_id").is_null())
    assert set(roots["name"]) == {"order.handle"}
    assert roots["trace_id"].is_unique().all() and roots.height == s["trace_id"].n_unique()
    children = s.filter(pl.col("parent_span_id").is_not_null()).join(
        s.select("trace_id", "span_id", "start_ns", "end_ns"),
        left_on=["trace_id", "parent_span_id"],
        right_on=["trace_id", "span_id"],
        suffix="_parent",
    )
    assert children.height == s.height - roots.height  # every parent resolves
    assert (children["start_ns"] >= children["start_ns_parent"]).all()
    assert (children["end_ns"] <= children["end_ns_parent"]).all()


def test_traced_samples_join_to_spans() -> None:
    p = loaded("traced-order-service")
    cpu = samples_of(p, "cpu")
    with_span = cpu.filter(pl.col("span_id").is_not_null())
    assert with_span["value"].sum() > 0.8 * cpu["value"].sum()
    joined = with_span.join(spans(), on="span_id", how="left")
    found = joined.filter(pl.col("name").is_not_null())
    assert found["value"].sum() >= 0.95 * with_span["value"].sum()
    assert (found["trace_id"] == found["trace_id_right"]).all()
    # The span_name label names the innermost span the sample was taken in.
    names = found.join(p.labels.filter(pl.col("key") == "span_name"), on="label_set_id").select(
        "name", "str"
    )
    assert (names["name"] == names["str"]).all()


def test_slow_pricing_spans_are_dominated_by_slow_pricing_rule() -> None:
    p = loaded("traced-order-service")
    pricing = spans().filter(pl.col("name") == "pricing.compute")
    slow_cut = pricing["dur"].quantile(0.95)
    slow = pricing.filter(pl.col("dur") >= slow_cut).select("span_id")
    fast = pricing.filter(pl.col("dur") < pricing["dur"].median()).select("span_id")
    rule = stacks_with(p, r"^main\.slowPricingRule$").with_columns(pl.lit(True).alias("rule"))
    cpu = samples_of(p, "cpu").join(rule, on="stack_id", how="left")

    def rule_share(selected: pl.DataFrame) -> float:
        s = cpu.join(selected, on="span_id")
        return float(s["value"].filter(s["rule"].fill_null(False)).sum() / s["value"].sum())

    assert rule_share(slow) > 0.5
    assert rule_share(fast) < 0.05
    overall = cum_share(p, r"^main\.slowPricingRule$", "service")["order-service"]
    assert 0.05 < overall < 0.6  # visible, but not what the whole profile is about


# ---- regenerating ------------------------------------------------------------------------


@pytest.mark.golang
@pytest.mark.slow
def test_generators_make_loadable_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("go") is None:
        pytest.skip("the Go toolchain is not installed")
    names = ["goroutine-leak", "heap-leak", "traced-order-service"]
    script = ROOT / "datasets" / "generators" / "make_all.py"
    run = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path), *names],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    monkeypatch.setenv(ds.ENV_VAR, str(tmp_path))
    assert ds.list() == sorted(names)
    counts = {"goroutine-leak": 6, "heap-leak": 3, "traced-order-service": 2}
    for name in names:
        p = ds.load(name)
        p.check()
        assert p.profiles["source"].n_unique() == counts[name]
        assert p.samples.height > 0
    assert ds.traces("traced-order-service")
    assert "go version go1." in (tmp_path / "generation.log").read_text()


@pytest.mark.parametrize("name", [n for n in ds.list() if (ds.path(n) / "otlp").is_dir()])
def test_otlp_copy_loads_to_the_same_tables(name: str) -> None:
    """The Go datasets ship OTLP copies too (java-service is JFR only)."""
    a = ds.load(name)
    b = ds.load(name, format="otlp")
    for table in ("stacks", "frames", "mappings", "labels"):
        key = getattr(a, table).columns[0]
        assert getattr(a, table).sort(key).equals(getattr(b, table).sort(key)), table
    cols = ["sample_index", "stack_id", "value", "label_set_id", "trace_id", "span_id"]
    assert a.samples.select(cols).sort(cols).equals(b.samples.select(cols).sort(cols))
    assert b.profiles["format"].unique().to_list() == ["otlp"]
