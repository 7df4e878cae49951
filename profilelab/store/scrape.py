"""Pull profiles from pprof HTTP endpoints on a schedule (like Parca's or Prometheus' scrape).

Configuration (YAML)::

    global:
      scrape_interval: 15s        # default for every job
      scrape_timeout: 10s         # per request, on top of a CPU profile's seconds
      retries: 2                  # extra attempts after a failed request
    scrape_configs:
      - job_name: order
        scrape_interval: 10s
        scheme: http
        profiles: [cpu, heap, goroutine]   # default: cpu heap goroutine mutex block
        profile_seconds: 5                  # CPU profile length (default: interval - 1s, <= 10s)
        profiling_config:                   # optional, Parca style: custom or changed endpoints
          pprof_config:
            fgprof: {enabled: true, path: /debug/fgprof, seconds: 5, name: wall}
        static_configs:
          - targets: ["127.0.0.1:6060", "10.0.0.7:6060"]
            labels: {service: order, region: eu}

Every (target, profile) pair is a job run every interval on a fixed grid (no drift) by a
thread pool, so a slow or dead target only ever holds its own jobs: a job still running
when its next tick comes skips that tick (counted as missed). Requests use ``urllib`` with
the timeout, retried with backoff while the next tick is still ahead. Stored profiles get
the static labels plus ``job`` and ``instance`` (the target) and the profile's name
(``cpu``, ``heap``, ``mutex``, ``block``, ...). Everything goes through one group
committer, so many scrapes landing together become one commit.
"""

from __future__ import annotations

import heapq
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profilelab.errors import ProfileLabError, QueryError
from profilelab.model.ids import digest_bytes
from profilelab.store.committer import GroupCommitter
from profilelab.store.prepare import Item
from profilelab.store.store import CommitResult, Store
from profilelab.store.timeparse import parse_duration

#: Standard Go net/http/pprof endpoints: name -> (path, takes ?seconds=N, stored name).
ENDPOINTS: dict[str, tuple[str, bool, str]] = {
    "cpu": ("/debug/pprof/profile", True, "cpu"),
    "heap": ("/debug/pprof/heap", False, "heap"),
    "allocs": ("/debug/pprof/allocs", False, "heap"),  # same data as heap; alloc_space default
    "goroutine": ("/debug/pprof/goroutine", False, "goroutine"),
    "mutex": ("/debug/pprof/mutex", False, "mutex"),
    "block": ("/debug/pprof/block", False, "block"),
    "threadcreate": ("/debug/pprof/threadcreate", False, "threadcreate"),
}
DEFAULT_PROFILES = ("cpu", "heap", "goroutine", "mutex", "block")
MAX_RESPONSE = 256 << 20
_S = 1_000_000_000


@dataclass(frozen=True)
class Endpoint:
    name: str  # stored profile name
    path: str
    seconds: int | None  # CPU-style profiles: ?seconds=N


@dataclass(frozen=True)
class Job:
    """One (target, profile) pair to scrape every ``interval_ns``."""

    job_name: str
    target: str
    url: str
    endpoint: Endpoint
    interval_ns: int
    timeout_s: float
    retries: int
    labels: Mapping[str, str]

    @property
    def key(self) -> str:
        return f"{self.job_name}/{self.target}/{self.endpoint.name}"


@dataclass
class JobStats:
    ticks: int = 0  # scheduled runs so far
    started: int = 0
    missed: int = 0  # ticks skipped because the previous run was still going
    ok: int = 0
    failed: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


# ---- configuration --------------------------------------------------------------------------
_JOB_KEYS = {
    "job_name",
    "scrape_interval",
    "scrape_timeout",
    "retries",
    "scheme",
    "profiles",
    "profile_seconds",
    "profiling_config",
    "static_configs",
}


def load_config(path: str | Path) -> list[Job]:
    """Read a scrape config file into jobs; QueryError naming the file and the bad entry."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise QueryError(f"{path}: cannot read the scrape config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise QueryError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_config(doc)
    except QueryError as exc:
        raise QueryError(f"{path}: {exc}") from None


def parse_config(doc: Any) -> list[Job]:
    """Jobs from a parsed scrape config (see the module docstring for the format)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("scrape_configs"), list):
        raise QueryError("expected a mapping with a 'scrape_configs' list")
    glob = doc.get("global") or {}
    jobs: list[Job] = []
    for i, cfg in enumerate(doc["scrape_configs"]):
        if not isinstance(cfg, dict) or not cfg.get("job_name"):
            raise QueryError(f"scrape_configs[{i}]: expected a mapping with a job_name")
        unknown = set(cfg) - _JOB_KEYS
        if unknown:
            raise QueryError(f"job {cfg['job_name']}: unknown keys {sorted(unknown)}")
        jobs.extend(_job_entries(cfg, glob))
    names = [j.key for j in jobs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise QueryError(f"the same target and profile appear twice: {sorted(dup)}")
    return jobs


def _job_entries(cfg: dict[str, Any], glob: dict[str, Any]) -> list[Job]:
    name = str(cfg["job_name"])
    interval = _duration(cfg.get("scrape_interval", glob.get("scrape_interval", "15s")), name)
    timeout = _duration(cfg.get("scrape_timeout", glob.get("scrape_timeout", "10s")), name)
    retries = int(cfg.get("retries", glob.get("retries", 2)))
    scheme = str(cfg.get("scheme", "http"))
    default_seconds = max(1, min(10, interval // _S - 1))
    seconds = int(cfg.get("profile_seconds", default_seconds))
    endpoints = _endpoints(cfg, name, seconds)
    jobs = []
    for sc in cfg.get("static_configs") or []:
        labels = {str(k): str(v) for k, v in (sc.get("labels") or {}).items()}
        for target in sc.get("targets") or []:
            for ep in endpoints:
                url = f"{scheme}://{target}{ep.path}"
                if ep.seconds:
                    url += f"{'&' if '?' in ep.path else '?'}seconds={ep.seconds}"
                all_labels = {"job": name, "instance": str(target), **labels}
                wait_s = timeout / _S + (ep.seconds or 0)
                jobs.append(Job(name, str(target), url, ep, interval, wait_s, retries, all_labels))
    if not jobs:
        raise QueryError(f"job {name}: no targets (static_configs[].targets)")
    return jobs


def _endpoints(cfg: dict[str, Any], job: str, seconds: int) -> list[Endpoint]:
    chosen = cfg.get("profiles", list(DEFAULT_PROFILES))
    out: dict[str, Endpoint] = {}
    for p in chosen:
        if p not in ENDPOINTS:
            raise QueryError(f"job {job}: unknown profile {p!r} (known: {', '.join(ENDPOINTS)})")
        path, timed, stored = ENDPOINTS[p]
        out[p] = Endpoint(stored, path, seconds if timed else None)
    pprof_config = (cfg.get("profiling_config") or {}).get("pprof_config") or {}
    for key, spec in pprof_config.items():
        spec = spec or {}
        if spec.get("enabled", True) is False:
            out.pop(key, None)
            continue
        known = ENDPOINTS.get(key)
        timed, stored = (known[1], known[2]) if known else (False, key)
        where = spec.get("path", known[0] if known else None)
        if not where:
            raise QueryError(f"job {job}: pprof_config {key} needs a path")
        secs = spec.get("seconds", seconds if timed else None)
        out[key] = Endpoint(str(spec.get("name", stored)), str(where), int(secs) if secs else None)
    return list(out.values())


def _duration(value: Any, job: str) -> int:
    try:
        return parse_duration(str(value))
    except QueryError as exc:
        raise QueryError(f"job {job}: {exc}") from None


# ---- running ----------------------------------------------------------------------------------
class Scraper:
    """Runs jobs on schedule and stores what they fetch; :meth:`run` until stopped."""

    def __init__(
        self,
        store: Store,
        jobs: list[Job],
        *,
        verbose: bool = False,
        max_workers: int = 64,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.verbose = verbose
        self.stats = {j.key: JobStats() for j in jobs}
        self.committer = GroupCommitter(store)
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(min(max_workers, max(1, len(jobs))), "scrape")
        self.stop_event = threading.Event()

    def run(self, duration_s: float | None = None, once: bool = False) -> None:
        """Scrape until :meth:`stop` (or ``duration_s`` passes, or each job ran once)."""
        start = time.monotonic_ns()
        # spread the jobs' first ticks over a tenth of their interval, not all at once
        heap = [
            (start + (i * j.interval_ns // 10) // max(1, len(self.jobs)), i)
            for i, j in enumerate(self.jobs)
        ]
        heapq.heapify(heap)
        end = None if duration_s is None else start + int(duration_s * _S)
        try:
            while heap and not self.stop_event.is_set():
                due, i = heap[0]
                if end is not None and due >= end:
                    break
                wait = (due - time.monotonic_ns()) / _S
                if wait > 0:
                    self.stop_event.wait(min(wait, 0.5))
                    continue
                if once:
                    heapq.heappop(heap)
                else:  # the next tick is on the grid, however late this one runs
                    heapq.heapreplace(heap, (due + self.jobs[i].interval_ns, i))
                self._dispatch(self.jobs[i])
        finally:
            self._pool.shutdown(wait=True)
            self.committer.close()

    def stop(self) -> None:
        self.stop_event.set()

    def _dispatch(self, job: Job) -> None:
        st = self.stats[job.key]
        with st.lock:
            st.ticks += 1
        with self._lock:
            if job.key in self._running:
                with st.lock:
                    st.missed += 1
                return
            self._running.add(job.key)
        self._pool.submit(self._run_job, job, time.monotonic_ns() + job.interval_ns)

    def _run_job(self, job: Job, next_tick: int) -> None:
        st = self.stats[job.key]
        with st.lock:
            st.started += 1
        began = time.time_ns()
        try:
            data = self._fetch(job, next_tick)
            self._store(job, data, began)
        except (ProfileLabError, OSError, urllib.error.URLError, ValueError) as exc:
            self._failed(job, exc)
        finally:
            with self._lock:
                self._running.discard(job.key)

    def _failed(self, job: Job, exc: BaseException) -> None:
        st = self.stats[job.key]
        with st.lock:
            st.failed += 1
            st.last_error = str(exc)
        self._log(f"scrape failed {job.url}: {exc}", always=True)

    def _committed(self, job: Job, size: int, fut: Future[CommitResult]) -> None:
        exc = fut.exception()
        if exc is not None:
            self._failed(job, exc)
            return
        st = self.stats[job.key]
        with st.lock:
            st.ok += 1
        self._log(f"scraped {job.url}: {size} bytes")

    def _fetch(self, job: Job, next_tick: int) -> bytes:
        """GET with retries and backoff while the next tick is still ahead."""
        delay = 0.1
        for attempt in range(job.retries + 1):
            try:
                return _get(job.url, job.timeout_s)
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == job.retries:
                    raise OSError(f"HTTP {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, OSError):
                if attempt == job.retries:
                    raise
            if self.stop_event.is_set() or time.monotonic_ns() + delay * _S >= next_tick:
                break
            time.sleep(delay)
            delay *= 2
        raise OSError("gave up before the next scrape was due")

    def _store(self, job: Job, data: bytes, began_ns: int) -> None:
        """Decode and queue for the next commit; the scrape counts as ok once committed.

        Not waiting for the commit keeps a slow disk from delaying the next scrape.
        """
        import profilelab

        profile = profilelab.load(data, name=job.url)
        item = Item(
            profile,
            digest_bytes(data),
            name=job.endpoint.name,
            labels=job.labels,
            default_time_ns=began_ns,
            source=job.url,
        )
        fut = self.committer.submit([item])
        fut.add_done_callback(lambda f: self._committed(job, len(data), f))

    def _log(self, text: str, always: bool = False) -> None:
        if always or self.verbose:
            print(f"profilelab scrape: {text}", file=sys.stderr, flush=True)

    def summary(self) -> str:
        lines = []
        for key, st in self.stats.items():
            err = f"  last error: {st.last_error}" if st.failed else ""
            lines.append(f"{key}: {st.ok} ok, {st.failed} failed, {st.missed} missed{err}")
        return "\n".join(lines)


def _get(url: str, timeout: float) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "profilelab-scrape"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data = resp.read(MAX_RESPONSE + 1)
    if len(data) > MAX_RESPONSE:
        raise OSError(f"response larger than {MAX_RESPONSE} bytes")
    return bytes(data)
