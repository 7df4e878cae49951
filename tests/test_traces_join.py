"""Samples joined to spans: coverage, attribution, innermost span by time, span analyses.

Expected values come from the simulated service's ground truth (``_tracefix``): each
sample knows the span that was running and the outcome its labels should give.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest
from _tracefix import T0_NS, WRITERS, Sample, World, make_world, pprof_bytes

import profilelab
from profilelab.model import builder
from profilelab.readers import read
from profilelab.traces.functions import function_values

SLOW = "main.applyDiscountsSlow"


def _profile(world: World, samples: list[Sample], times: bool = False) -> profilelab.Profile:
    last = max(s.end_ns for s in world.spans)
    raw = read(pprof_bytes(samples, T0_NS, last - T0_NS))[0]
    if times:  # as the OTLP reader gives them: one timestamp per sample
        raw.sample_time_ns = np.array([s.time_ns for s in samples], dtype=np.int64)
        raw.sample_time_valid = np.ones(len(samples), dtype=bool)
    prof = builder.build([raw])
    from profilelab.api import add_profile_labels

    return add_profile_labels(prof, {"service": "orders"})


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def spans(world: World) -> profilelab.Spans:
    return profilelab.load_traces(WRITERS["otlp-proto"](world))


@pytest.fixture(scope="module")
def joined(world: World, spans: profilelab.Spans) -> profilelab.SpanJoin:
    return profilelab.join_spans(_profile(world, world.samples), spans)


def _row_of(spans: profilelab.Spans, span: object) -> int:
    return spans.find(span.span_id, span.trace_id, span.service)  # type: ignore[attr-defined]


def test_coverage_counts_match_the_ground_truth(world: World, joined: profilelab.SpanJoin) -> None:
    cov = joined.coverage
    expected = Counter(s.expect for s in world.samples)
    assert dict(zip(cov.samples["outcome"], cov.samples["samples"], strict=True)) == expected
    assert cov.labelled_samples == len(world.samples) - expected["unlabelled"]
    assert cov.matched_samples == expected["span_label"] + expected["local_root_fallback"]
    assert 0 < cov.sample_ratio < 1
    # every span of the unprofiled service is reported as such
    reasons = dict(zip(cov.spans["reason"], cov.spans["spans"], strict=True))
    assert reasons["no_profile_for_service"] == sum(s.service == "inventory" for s in world.spans)
    assert sum(reasons.values()) == len(world.spans)
    # db.query spans only wait: no sample, and said so
    db_rows = joined.rows("db.query")
    assert (joined.self_counts[db_rows] == 0).all()
    assert "samples:" in cov.summary() and "trace_not_loaded 1" in cov.summary()


def test_each_sample_lands_on_the_span_its_labels_name(
    world: World, spans: profilelab.Spans, joined: profilelab.SpanJoin
) -> None:
    attr = joined.attribution.join(
        joined.profile.profiles.filter(pl.col("is_default")).select("profile_id"), on="profile_id"
    ).sort("sample_index")
    assert attr.height == len(world.samples)
    for sample, row in zip(world.samples, attr.iter_rows(named=True), strict=True):
        if sample.expect_row_of is None:
            assert row["span_row"] is None and row["miss"] == sample.expect
        else:
            assert row["span_row"] == _row_of(spans, sample.expect_row_of)
            assert row["method"] == sample.expect


def test_timed_samples_go_to_the_innermost_active_span(
    world: World, spans: profilelab.Spans
) -> None:
    # every sample labelled with its local root only, as otel-profiling-go does
    timed = [
        Sample(
            s.stack,
            {"local root span id": str(int(_root(world, s).span_id, 16))},
            s.time_ns,
            s.truth,
            "",
            None,
        )
        for s in world.samples
        if s.truth is not None
    ]
    prof = _profile(world, timed, times=True)
    joined = profilelab.join_spans(prof, spans)
    default = joined.profile.profiles.filter(pl.col("is_default")).select("profile_id")
    attr = joined.attribution.join(default, on="profile_id").sort("sample_index")
    truth = [_row_of(spans, s.truth) for s in timed]
    assert attr["span_row"].to_list() == truth
    assert set(attr["method"]) == {"time"}
    # the children got samples directly, so price.compute now carries the slow function
    assert joined.self_counts[joined.rows("price.compute")].sum() > 0
    # refine="never" keeps each sample at the labelled local root
    kept = profilelab.join_spans(prof, spans, refine="never").attribution
    kept = kept.join(default, on="profile_id").sort("sample_index")
    assert kept["span_row"].to_list() == [_row_of(spans, _root(world, s)) for s in timed]
    assert set(kept["method"]) == {"local_root_label"}


def test_skewed_sample_times_keep_their_label_and_are_counted(
    world: World, spans: profilelab.Spans
) -> None:
    labelled = [s for s in world.samples if s.truth is not None][:10]
    late = [
        Sample(
            s.stack,
            {"local root span id": str(int(_root(world, s).span_id, 16))},
            s.time_ns + 10**12,
            s.truth,
            "",
            None,
        )
        for s in labelled
    ]
    joined = profilelab.join_spans(_profile(world, late, times=True), spans)
    assert joined.coverage.time_outside_samples == len(late)
    assert "10 timed outside" in joined.coverage.summary()
    default = joined.profile.profiles.filter(pl.col("is_default")).select("profile_id")
    attr = joined.attribution.join(default, on="profile_id").sort("sample_index")
    assert attr["span_row"].to_list() == [_row_of(spans, _root(world, s)) for s in late]
    assert set(attr["method"]) == {"local_root_label"}


def _root(world: World, sample: Sample) -> object:
    assert sample.truth is not None
    return next(s for s in world.spans if s.trace_id == sample.truth.trace_id and s.parent is None)


@pytest.mark.parametrize("cores", [1.0, 0.5, 4.0])
def test_cpu_never_exceeds_wall_times_cores(joined: profilelab.SpanJoin, cores: float) -> None:
    per_span = joined.cpu_vs_wall(cores=cores, by_span=True)
    assert per_span.height > 0
    assert (per_span["cpu_ns"] <= per_span["duration_ns"] * cores).all()
    assert (
        per_span["capped"] == (per_span["cpu_sampled_ns"] > per_span["duration_ns"] * cores)
    ).all()
    per_name = joined.cpu_vs_wall(cores=cores)
    assert (per_name["cpu_ns"] <= per_name["wall_ns"] * cores).all()
    # total CPU attributed equals the sampled CPU of matched samples, minus what was capped
    capped_away = (per_span["cpu_sampled_ns"] - per_span["cpu_ns"]).sum()
    roots = per_span.filter(pl.col("name") == "GET /order")
    orders_cpu = joined.self_values("cpu")[joined.rows(service="orders")].sum()
    assert roots["cpu_sampled_ns"].sum() == orders_cpu
    assert capped_away >= 0


def test_waiting_and_cpu_bound_spans(joined: profilelab.SpanJoin) -> None:
    per_name = joined.cpu_vs_wall(cores=1.0)
    mostly = {(s, n): m for s, n, m in per_name.select("service", "name", "mostly").iter_rows()}
    assert mostly[("orders", "db.query")] == "waiting"
    assert mostly[("orders", "GET /stock")] == "waiting"
    db = per_name.filter(pl.col("name") == "db.query")
    assert db["cpu_ns"][0] == 0


def test_child_spans_of_root_only_labelling_are_unknown_not_waiting(
    world: World, spans: profilelab.Spans
) -> None:
    # profilers that label samples with the local root span only (otel-profiling-go,
    # Pyroscope): children such as price.compute did burn CPU, but no sample can say so
    root_only = [
        s
        for s in world.samples
        if s.expect_row_of is not None
        and s.expect_row_of.parent is None
        and "span_name" in s.labels
    ]
    assert len(root_only) > 10
    joined = profilelab.join_spans(_profile(world, root_only), spans)
    per_name = joined.cpu_vs_wall(cores=1.0)
    row = {n: r for n, r in zip(per_name["name"], per_name.iter_rows(named=True), strict=True)}
    assert row["price.compute"]["mostly"] == "unknown"
    assert row["price.compute"]["cpu_ns"] is None
    assert row["price.compute"]["unknown"] == row["price.compute"]["spans"]
    # local roots are always known: they carry every sample of their request
    assert row["GET /order"]["unknown"] == 0 and row["GET /order"]["cpu_ns"] > 0
    per_span = joined.cpu_vs_wall(cores=1.0, by_span=True)
    children = per_span.filter(pl.col("name") == "price.compute")
    assert not children["cpu_known"].any() and children["cpu_ns"].null_count() == children.height
    # with exact span labels on other requests of the service, the same name is known again
    full = profilelab.join_spans(_profile(world, world.samples), spans).cpu_vs_wall(cores=1.0)
    assert full.filter(pl.col("name") == "price.compute")["mostly"][0] == "cpu"


def test_slowest_spans_profile_shows_the_slow_function(
    world: World, joined: profilelab.SpanJoin
) -> None:
    slowest = joined.slowest_spans("GET /order", n=3)
    assert set(slowest["trace_id"]) == world.slow_traces
    prof = joined.slowest("GET /order", n=3)
    prof.check()
    ids = prof.profiles.filter(pl.col("sample_type") == "cpu")["profile_id"].to_list()
    top = function_values(prof, ids)
    assert top.sort("self", descending=True)["function"][0] == SLOW
    # a typical request's profile has none of it
    fast = joined.span_profile(
        joined.slowest_spans("GET /order", n=30)["span_id"][-1], service="orders"
    )
    assert SLOW not in function_values(fast, ids)["function"].to_list()


def test_cohort_diff_points_at_the_slow_function(joined: profilelab.SpanJoin) -> None:
    diff = joined.cohort_diff("GET /order", n=3)
    assert diff.functions["function"][0] == SLOW
    assert diff.functions["median_self"][0] == 0 and diff.functions["delta_self"][0] > 0
    assert diff.slow_spans.height == diff.median_spans.height == 3
    assert diff.slow_spans["duration_ns"].min() > diff.median_spans["duration_ns"].max()
    assert diff.sample_type == "cpu" and diff.unit == "nanoseconds"
    diff.slow.check()
    diff.median.check()
    with pytest.raises(profilelab.QueryError):
        joined.cohort_diff("no such span")


def test_span_profiles_inclusive_and_by_name(world: World, joined: profilelab.SpanJoin) -> None:
    everything = joined.name_profile("GET /order")
    matched = joined.attribution.filter(pl.col("span_row").is_not_null())
    assert everything.samples.height == matched.height  # every matched sample is in a request
    own = joined.name_profile("GET /order", inclusive=False)
    assert own.samples.height < everything.samples.height
    price = joined.name_profile("price.compute")
    assert (
        price.samples.height == joined.name_profile("price.compute", inclusive=False).samples.height
    )
    with pytest.raises(profilelab.QueryError):
        joined.span_profile("0000000000000001")


def test_exemplars_lead_from_a_latency_bucket_to_the_slow_code(
    world: World, joined: profilelab.SpanJoin
) -> None:
    roots = [s for s in world.spans if s.parent is None]
    bounds = [0.05, 0.1, 0.5, float("inf")]
    lines = ["# TYPE http_server_duration_seconds histogram"]
    for le in bounds:
        inside = [r for r in roots if (r.end_ns - r.start_ns) / 1e9 <= le]
        label = "+Inf" if le == float("inf") else str(le)
        line = f'http_server_duration_seconds_bucket{{route="/order",le="{label}"}} {len(inside)}'
        last = max(inside, key=lambda r: r.end_ns - r.start_ns, default=None)
        if last is not None:
            secs = (last.end_ns - last.start_ns) / 1e9
            line += (
                f' # {{trace_id="{last.trace_id}",span_id="{last.span_id}"}} {secs} 1700000000.5'
            )
        lines.append(line)
    lines.append("# EOF")
    ex = profilelab.read_exemplars("\n".join(lines))
    assert ex["le"].to_list()[:3] == bounds[:3] and ex["lower"].to_list()[:2] == [None, 0.05]
    assert ex["exemplar_time_ns"][0] == 1_700_000_000_500_000_000
    slow_bucket = ex.filter(pl.col("lower") >= 0.1)
    assert set(slow_bucket["trace_id"]) <= world.slow_traces and slow_bucket.height >= 1
    prof = joined.exemplar_profile(slow_bucket)
    ids = prof.profiles.filter(pl.col("sample_type") == "cpu")["profile_id"].to_list()
    assert function_values(prof, ids).sort("self", descending=True)["function"][0] == SLOW
    # without a span id the exemplar leads to its trace's root
    no_span = profilelab.read_exemplars(
        f'm_bucket{{le="1"}} 3 # {{traceID="{roots[0].trace_id}"}} 0.2\n'
        'm_bucket{le="2"} 3 # {trace_id="00000000000000000000000000000abc"} 0.2\n'
    )
    from profilelab.traces import exemplar_spans

    found = exemplar_spans(no_span, joined.spans)
    assert found["match"].to_list() == ["trace_root", "trace_not_loaded"]


def test_bad_exemplar_text_is_one_clear_error() -> None:
    with pytest.raises(profilelab.FormatError, match="line 2"):
        profilelab.read_exemplars('ok_total 1\nbad{le="1" 3\n')


def test_malformed_traces_still_join_what_they_can(world: World) -> None:
    import json

    doc = json.loads(WRITERS["zipkin"](world))
    first = doc[0]["traceId"]
    broken = [dict(s) for s in doc]
    # make a cycle in the first trace's parents and drop ids of another span
    in_first = [s for s in broken if s["traceId"] == first]
    in_first[0]["parentId"] = in_first[1]["id"]
    broken[-1]["id"] = ""
    lost = (broken[-1]["traceId"], doc[-1]["id"])
    broken[-1]["id"] = ""
    spans = profilelab.load_traces(json.dumps(broken).encode())
    assert {"parent_cycle", "bad_span_id"} <= set(spans.problems["problem"])
    assert spans.spans.height == len(doc) - 1
    joined = profilelab.join_spans(_profile(world, world.samples), spans)

    # only the samples labelled with the dropped span miss; the cycle costs nothing
    def names_lost(s: Sample) -> bool:
        return s.expect_row_of is not None and (
            s.expect_row_of.trace_id.endswith(lost[0]) and s.expect_row_of.span_id == lost[1]
        )

    expected = sum(s.expect_row_of is not None and not names_lost(s) for s in world.samples)
    assert sum(names_lost(s) for s in world.samples) > 0
    assert joined.coverage.matched_samples == expected


def test_join_sql_over_samples_and_spans(joined: profilelab.SpanJoin) -> None:
    out = joined.sql(
        """
        select t.name, sum(s.value) as cpu
        from span_samples a
        join samples s using (profile_id, sample_index)
        join profiles p using (profile_id)
        join span_tree t on t.span_row = a.span_row
        where p.sample_type = 'cpu'
        group by t.name order by cpu desc
        """
    )
    assert out["name"][0] in ("GET /order", "price.compute")
    assert "db.query" not in out["name"].to_list()


def test_pyroscope_span_labels_of_a_real_profile_join(corpus) -> None:  # type: ignore[no-untyped-def]
    """Pyroscope's Go integration labels CPU samples with the local root span ("profile_id")."""
    import json

    prof = profilelab.load(
        corpus / "grafana-pyroscope/pkg/og/convert/pprof/testdata/cpu-exemplars.pb.gz"
    )
    default = prof.profiles.filter(pl.col("is_default"))
    samples = prof.samples.filter(pl.col("profile_id") == default["profile_id"][0])
    ids = sorted(samples["span_id"].drop_nulls().unique().to_list())
    traced = set(ids[::2])  # the tracer kept every other request
    t0 = default["time_ns"][0] // 1000
    spans = [
        {
            "traceId": f"{k + 1:032x}",
            "id": sid,
            "name": "GET /",
            "kind": "SERVER",
            "timestamp": t0 + 1000 * k,
            "duration": 900,
            "localEndpoint": {"serviceName": "app"},
        }
        for k, sid in enumerate(sorted(traced))
    ]
    joined = profilelab.join_spans(prof, profilelab.load_traces(json.dumps(spans).encode()))
    cov = joined.coverage
    in_traced = samples.filter(pl.col("span_id").is_in(sorted(traced))).height
    assert cov.matched_samples == in_traced
    assert cov.labelled_samples == samples["span_id"].drop_nulls().len()
    outcome = dict(zip(cov.samples["outcome"], cov.samples["samples"], strict=True))
    assert outcome["span_not_found"] == cov.labelled_samples - in_traced
    assert (joined.self_counts > 0).all()  # every traced request had samples
    assert joined.name_profile("GET /").samples.height == in_traced * prof.profiles.height
