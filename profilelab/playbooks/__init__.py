"""Playbooks: the findings of the investigation notebooks, computed from the data.

Each function answers one question on a Profile and returns a :class:`Finding` (a headline
sentence with its numbers in ``facts``). The notebooks in ``notebooks/`` walk through the
same steps with widgets; ``profilelab report`` puts the findings into one HTML page.

=========================  ====================================  ==========================
notebook                   function                              dataset
=========================  ====================================  ==========================
01-cpu-hotspot             :func:`cpu_hotspot`                   checkout-api
02-memory-leak             :func:`memory_leak`                   heap-leak
03-goroutine-leak          :func:`goroutine_leak`                goroutine-leak
04-version-regression      :func:`version_regression`            order-service
05-slow-span-to-profile    :func:`slow_spans`                    traced-order-service
06-fleet-trends-and-alerts :func:`fleet_alerts`                  order-service
07-java-jfr                :func:`java_hotspot_and_leak`         java-service (JFR)
=========================  ====================================  ==========================

The Go datasets ship as pprof and as OTLP: ``profilelab.datasets.load(name, format="otlp")``.
"""

from profilelab.playbooks._finding import Finding
from profilelab.playbooks.cpu import cpu_fix, cpu_hotspot, hot_path, only_labels, package_shares
from profilelab.playbooks.data import cost_per_count, snapshot_totals, snapshots
from profilelab.playbooks.fleet import fleet_alerts, share_alerts
from profilelab.playbooks.java import java_hotspot_and_leak
from profilelab.playbooks.leaks import goroutine_leak, memory_leak
from profilelab.playbooks.regression import version_regression
from profilelab.playbooks.spans import slow_spans

__all__ = [
    "Finding",
    "cost_per_count",
    "cpu_fix",
    "cpu_hotspot",
    "fleet_alerts",
    "goroutine_leak",
    "hot_path",
    "java_hotspot_and_leak",
    "memory_leak",
    "only_labels",
    "package_shares",
    "share_alerts",
    "slow_spans",
    "snapshot_totals",
    "snapshots",
    "version_regression",
]
