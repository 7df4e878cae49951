"""The story of each shipped dataset: the playbooks' findings plus the tables, charts and
flame graphs that show them (the same steps as the notebooks, without Jupyter).

Each story is ``(format) -> list[Section]`` registered in :data:`STORIES` under its
dataset's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from profilelab import analysis, datasets, playbooks
from profilelab.api import load
from profilelab.core.selection import Selection as CoreSelection
from profilelab.model.profile import Profile
from profilelab.playbooks._finding import Finding
from profilelab.render.flame_html import diff_html, flame_html
from profilelab.render.trends import compare_figure, growth_figure, trend_figure
from profilelab.report.html import Chart, Flame, Section, Table
from profilelab.views import Comparison, Selection, comparison

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from profilelab.traces import SpanJoin

#: Nodes kept per embedded flame graph: enough detail to zoom, a small page.
FLAME_NODES = 20_000
SERVER = {"endpoint": "/checkout"}

Story = Callable[[str], list[Section]]


def checkout_api(fmt: str) -> list[Section]:
    """01-cpu-hotspot: where v1.4.0's CPU goes, and what the v1.5.0 fix changed."""
    before = datasets.load("checkout-api", format=fmt, variant="before")
    after = datasets.load("checkout-api", format=fmt, variant="after")
    hotspot = playbooks.cpu_hotspot(before, labels=SERVER)
    package = hotspot.facts["package"]
    fix = playbooks.cpu_fix(before, after, package, labels=SERVER, names=("v1.4.0", "v1.5.0"))
    server_before = playbooks.only_labels(before, SERVER)
    packages = hotspot.tables["packages"].select("package", "cum_share", "flat_share").head(12)
    rates = _rates("checkout-api", {"before": before, "after": after}, "variant", "n_requests")
    cmp = comparison(server_before, playbooks.only_labels(after, SERVER))
    return [
        Section(
            "cpu-hotspot",
            "CPU hotspot: checkout-api v1.4.0",
            (hotspot,),
            (
                Table("Packages by share of /checkout CPU", packages, ("cum_share", "flat_share")),
                Table(
                    "Top functions by flat (self) time, as go tool pprof -top",
                    _top(server_before),
                    ("flat_share", "cum_share"),
                    {"flat": "nanoseconds", "cum": "nanoseconds"},
                ),
                Flame("Flame graph of /checkout (v1.4.0)", _flame(server_before)),
            ),
        ),
        Section(
            "cpu-fix",
            "The fix: v1.4.0 → v1.5.0",
            (fix,),
            (
                Table("Requests per second measured by the load generator", rates),
                Flame("Diff flame graph, normalized (red grew, blue shrank)", _diff(cmp)),
            ),
        ),
    ]


def heap_leak(fmt: str) -> list[Section]:
    """02-memory-leak: which function's in-use memory grows."""
    heap = datasets.load("heap-leak", format=fmt)
    finding = playbooks.memory_leak(heap)
    grown = finding.tables["growth"].head(8)
    inuse = analysis.trend(heap, sample_type="inuse_space", step="500ms", measure="flat", top=5)
    return [
        Section(
            "memory-leak",
            "Memory leak: session-api",
            (finding,),
            (
                Chart(
                    "In-use bytes by allocating function",
                    trend_figure(inuse, y="value", title="in-use bytes by allocating function"),
                ),
                Chart("Growth per hour", growth_figure(grown, title="in-use bytes per hour")),
                Table(
                    "Growth of in-use bytes per function",
                    grown.select("key", "first", "last", "slope_per_hour", "corr", "growing"),
                    units={"first": "bytes", "last": "bytes", "slope_per_hour": "bytes"},
                ),
                Flame(
                    "Growth flame graph (widths: bytes per hour)",
                    _flame(analysis.growth_profile(heap)),
                ),
            ),
        )
    ]


def goroutine_leak(fmt: str) -> list[Section]:
    """03-goroutine-leak: which goroutines pile up, against the fixed build."""
    both = datasets.load("goroutine-leak", format=fmt)
    leaking = datasets.load("goroutine-leak", format=fmt, variant="leaking")
    fixed = datasets.load("goroutine-leak", format=fmt, variant="fixed")
    finding = playbooks.goroutine_leak(leaking)
    control = playbooks.goroutine_leak(fixed)
    control = Finding(control.playbook, "And the fixed build?", control.headline, control.facts)
    counts = playbooks.snapshot_totals(both, by="variant")
    grown = finding.tables["growth"].select("stack", "first", "last", "slope_per_hour", "growing")
    return [
        Section(
            "goroutine-leak",
            "Goroutine leak: notifier",
            (finding, control),
            (
                Chart("Goroutines per snapshot", _counts_figure(counts, "variant")),
                Table("Goroutine stacks by growth", grown.head(5)),
                Flame(
                    "Where the goroutines wait (last snapshot, leaking build)",
                    _flame(playbooks.snapshots(leaking)[-1]),
                ),
            ),
        )
    ]


def order_service(fmt: str) -> list[Section]:
    """04-version-regression and 06-fleet-trends-and-alerts on the order-service fleet."""
    fleet = datasets.load("order-service", format=fmt)
    base, new = {"version": "v2.3.5"}, {"version": "v2.3.6"}
    regression = playbooks.version_regression(fleet, base, new)
    result = regression.tables["compare"]
    significant = result.filter(pl.col("significant")).select(
        "key", "base_share", "new_share", "delta_share", "ci_low", "ci_high", "q_value"
    )
    per_order = playbooks.cost_per_count(fleet, "order-service", "n_orders", by="version")
    cmp = comparison(
        datasets.load("order-service", format=fmt, **base),
        datasets.load("order-service", format=fmt, **new),
    )
    alerts = playbooks.fleet_alerts(fleet)
    alert_table = alerts.tables["alerts"].select("key", "fired_at", "baseline", "share", "peak")
    watched = alert_table["key"].head(4).to_list()
    step = alerts.facts["step_ns"]
    pattern = "^(" + "|".join(re.escape(k) for k in watched) + ")$"
    trend = analysis.trend(fleet, step=step, match=pattern, top=None)
    shares = ("base_share", "new_share", "delta_share", "ci_low", "ci_high")
    return [
        Section(
            "version-regression",
            "Version regression: order-service v2.3.5 → v2.3.6",
            (regression,),
            (
                Chart("Change of CPU share with 95% CI", compare_figure(result, top=15)),
                Table("Significant changes", significant.head(15), shares),
                Table(
                    "CPU per order (orders counted by the load generator)",
                    per_order.rename(
                        {"total": "cpu", "count": "orders", "per_count": "cpu_per_order"}
                    ),
                    units={"cpu": "nanoseconds", "cpu_per_order": "nanoseconds"},
                ),
                Flame("Diff flame graph, normalized (red grew, blue shrank)", _diff(cmp)),
            ),
        ),
        Section(
            "fleet-alerts",
            "Fleet trends and alerts: order-service",
            (alerts,),
            (
                Chart("Share of fleet CPU of the alerting functions", trend_figure(trend)),
                Table("Alerts", alert_table, ("baseline", "share", "peak")),
            ),
        ),
    ]


def traced_order_service(fmt: str) -> list[Section]:
    """05-slow-span-to-profile: the code and the request attribute behind the latency tail."""
    from profilelab.readers.traces import load_traces
    from profilelab.traces import join_spans

    name = "traced-order-service"
    joined = join_spans(datasets.load(name, format=fmt), load_traces(datasets.traces(name)))
    finding = playbooks.slow_spans(joined, "order.handle")
    coverage = Finding(
        finding.playbook, "Did the samples find their spans?", joined.coverage.summary(), {}
    )
    slow_fns = finding.tables["slow_functions"].head(10).select("key", "flat", "share")
    slowest = finding.tables["slowest"].head(10).select("trace_id", "duration_ns", "local_value")
    cohort = joined.cohort_diff("order.handle", n=50)
    return [
        Section(
            "slow-span",
            "Slow spans: order-service order.handle",
            (finding, coverage),
            (
                Chart("Latency of order.handle", _latency_figure(joined, "order.handle")),
                Table(
                    "Where the slow spans spend their CPU (runtime counted to its caller)",
                    slow_fns,
                    ("share",),
                    {"flat": "nanoseconds"},
                ),
                Table(
                    "The slowest spans",
                    slowest,
                    units={"duration_ns": "nanoseconds", "local_value": "nanoseconds"},
                ),
                Flame(
                    "Slowest 50 against 50 around the median (red: more in the slow ones)",
                    _diff(comparison(cohort.median, cohort.slow)),
                ),
            ),
        )
    ]


def java_service(fmt: str) -> list[Section]:
    """07-java-jfr: a Java service's CPU hotspot and its leak, from JFR recordings.

    The dataset is JFR only (no OTLP copy): ``fmt`` does not apply and it is always read as
    the recordings it is.
    """
    jvm = datasets.load("java-service")
    finding = playbooks.java_hotspot_and_leak(jvm, app="JavaService")
    return [
        Section(
            "java-jfr",
            "Java service recorded with JFR: CPU hotspot and leak",
            (finding,),
            (
                Table(
                    "Allocating functions: share of live objects and of allocated bytes",
                    finding.tables["sites"],
                    ("live_share", "alloc_share"),
                ),
                Flame("CPU flame graph (execution samples)", _flame(Selection(jvm, "cpu"))),
                Flame("Live objects by allocating call path", _flame(Selection(jvm, "live"))),
            ),
        )
    ]


def profiles_section(files: list[str], selection: CoreSelection) -> Section:
    """Profile files (merged) under one selection: pprof's top and the flame graph, the
    numbers ``profilelab top`` and ``profilelab flame`` give for the same flags."""
    profile = load(files)
    view = Selection(profile, selection=selection)
    table = _top(profile, n=30, selection=selection)
    title = f"{', '.join(files)}: {view.sample_type}"
    finding = Finding("profiles", "What the selection shows", title, {"total": view.total})
    return Section(
        "profiles",
        "Profiles: " + ", ".join(files),
        (finding,),
        (
            Table(
                f"Top functions by flat ({view.sample_type})", table, ("flat_share", "cum_share")
            ),
            Flame(f"Flame graph ({view.sample_type})", _flame(view)),
        ),
    )


STORIES: dict[str, Story] = {
    "checkout-api": checkout_api,
    "heap-leak": heap_leak,
    "goroutine-leak": goroutine_leak,
    "order-service": order_service,
    "traced-order-service": traced_order_service,
    "java-service": java_service,
}


def _flame(p: Profile | Selection) -> str:
    return flame_html(p, max_nodes=FLAME_NODES, width_px=1100)


def _diff(cmp: Comparison) -> str:
    return diff_html(cmp, normalize=True, width_by="max", max_nodes=FLAME_NODES, width_px=1100)


def _top(p: Profile, n: int = 15, selection: CoreSelection | None = None) -> pl.DataFrame:
    """pprof's top (the numbers of ``go tool pprof -top``), shares as fractions."""
    return p.top(nodecount=n, selection=selection or CoreSelection()).select(
        "name",
        "flat",
        (pl.col("flat_pct") / 100).alias("flat_share"),
        "cum",
        (pl.col("cum_pct") / 100).alias("cum_share"),
    )


def _rates(name: str, profiles: dict[str, Profile], label: str, counter: str) -> pl.DataFrame:
    """Per label value: the counter's sum over the index rows, per second of profiling."""
    index = datasets.index(name)
    rows = []
    for value, p in profiles.items():
        seconds = (
            float(p.profiles.filter(pl.col("is_default"))["duration_ns"].to_numpy().sum()) / 1e9
        )
        count = int(index.filter(pl.col(label) == value)[counter].to_numpy().sum())
        rows.append(
            {label: value, counter: count, "seconds": seconds, "per_second": count / seconds}
        )
    return pl.DataFrame(rows)


def _counts_figure(counts: pl.DataFrame, label: str) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    for (value,), df in counts.partition_by(label, as_dict=True, maintain_order=True).items():
        x, y = df["seconds"].to_list(), df["total"].to_list()
        fig.add_trace(go.Scatter(x=x, y=y, name=str(value), mode="lines+markers"))
    fig.update_layout(
        xaxis_title="seconds since the first snapshot", yaxis_title="goroutines", margin={"t": 30}
    )
    return fig


def _latency_figure(joined: SpanJoin, name: str) -> go.Figure:
    import plotly.graph_objects as go

    spans = joined.span_table().filter(pl.col("name") == name)
    ms = (spans["duration_ns"] / 1e6).to_list()
    fig = go.Figure(go.Histogram(x=ms, nbinsx=80))
    fig.update_layout(xaxis_title="ms", yaxis_title="spans", yaxis_type="log", margin={"t": 30})
    return fig
