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

Every (target, profile) pair is a job run every interval on a fixed grid (no drift) as an
asyncio task with an ``httpx`` client, so a slow or dead target only ever holds its own
jobs: a job still running when its next tick comes skips that tick (counted as missed).
Each scrape has one deadline, ``scrape_timeout`` (plus a CPU profile's seconds), for
everything: connecting, retries with backoff (only while the next tick is ahead) and the
whole body, so a target trickling a byte a second fails at the deadline. Bodies are
capped at :data:`MAX_RESPONSE` bytes and their gzip at :data:`MAX_INFLATED`. Every
scrape ends counted as ok (once durable) or failed with its reason, including answers
that are not HTTP; :meth:`Scraper.stop` (SIGTERM, Ctrl-C) cancels the scrapes in flight
at once. Decoding runs on two threads. Stored profiles get the static labels plus ``job``
and ``instance`` (the target) and the profile's name (``cpu``, ``heap``, ``mutex``,
``block``, ...). Everything goes through one group committer, so many scrapes landing
together become one append to the store's journal (:mod:`profilelab.store.journal`; a
scrape counts as ok once it is durable there), stored in segments by the journal's fold.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from profilelab.core.timeparse import parse_duration
from profilelab.errors import ProfileLabError, QueryError
from profilelab.model.ids import digest_bytes
from profilelab.readers._input import inflate_bounded
from profilelab.store._decode import load_bounded
from profilelab.store.committer import GroupCommitter
from profilelab.store.prepare import Item
from profilelab.store.store import CommitResult, Store

if TYPE_CHECKING:
    import httpx

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
MAX_RESPONSE = 64 << 20  # bytes on the wire
MAX_INFLATED = 256 << 20  # bytes after gunzip (Content-Encoding and the pprof's own gzip)
DECODERS = 2
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
class ScrapeError(Exception):
    """One scrape's failure, in one line."""


class _Status(ScrapeError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"HTTP {code} {reason}".strip())
        self.code = code


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
        self.max_workers = max_workers
        self.stats = {j.key: JobStats() for j in jobs}
        self.committer = GroupCommitter(store, journal=True)
        self._decoders = ThreadPoolExecutor(DECODERS, "scrape-decode")
        self.stop_event = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def run(self, duration_s: float | None = None, once: bool = False) -> None:
        """Scrape until :meth:`stop` (or ``duration_s`` passes, or each job ran once).

        At the end the scrapes in flight finish within their deadlines (after
        :meth:`stop`: are cancelled at once) and what they fetched is committed.
        """
        try:
            asyncio.run(self._main(duration_s, once))
        finally:
            self._decoders.shutdown(wait=True)
            self.committer.close()

    def stop(self) -> None:
        """Stop now: from any thread or a signal handler."""
        self.stop_event.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)

    async def _main(self, duration_s: float | None, once: bool) -> None:
        import httpx

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.stop_event.is_set():
            return
        limits = httpx.Limits(max_connections=self.max_workers, max_keepalive_connections=32)
        headers = {"User-Agent": "profilelab-scrape", "Accept-Encoding": "gzip"}
        async with httpx.AsyncClient(limits=limits, headers=headers, timeout=None) as client:
            tasks: dict[str, asyncio.Task[None]] = {}
            try:
                await self._schedule(client, tasks, duration_s, once)
                await self._finish(tasks)
            finally:
                for task in tasks.values():
                    task.cancel()
                await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _schedule(
        self,
        client: httpx.AsyncClient,
        tasks: dict[str, asyncio.Task[None]],
        duration_s: float | None,
        once: bool,
    ) -> None:
        assert self._wake is not None
        start = time.monotonic_ns()
        # spread the jobs' first ticks over a tenth of their interval, not all at once
        heap = [
            (start + (i * j.interval_ns // 10) // max(1, len(self.jobs)), i)
            for i, j in enumerate(self.jobs)
        ]
        heapq.heapify(heap)
        end = None if duration_s is None else start + int(duration_s * _S)
        while heap and not self.stop_event.is_set():
            due, i = heap[0]
            if end is not None and due >= end:
                break
            wait = (due - time.monotonic_ns()) / _S
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                continue
            if once:
                heapq.heappop(heap)
            else:  # the next tick is on the grid, however late this one runs
                heapq.heapreplace(heap, (due + self.jobs[i].interval_ns, i))
            job = self.jobs[i]
            self._dispatch(client, job, tasks, time.monotonic_ns() + job.interval_ns)

    async def _finish(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Wait for the scrapes in flight (each ends by its deadline) unless stopped."""
        assert self._wake is not None
        pending: set[asyncio.Future[Any]] = {t for t in tasks.values() if not t.done()}
        while pending and not self.stop_event.is_set():
            woken = asyncio.ensure_future(self._wake.wait())
            _, pending = await asyncio.wait(pending | {woken}, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            pending.discard(woken)

    def _dispatch(
        self,
        client: httpx.AsyncClient,
        job: Job,
        tasks: dict[str, asyncio.Task[None]],
        next_tick: int,
    ) -> None:
        st = self.stats[job.key]
        with st.lock:
            st.ticks += 1
        running = tasks.get(job.key)
        if running is not None and not running.done():
            with st.lock:
                st.missed += 1
            return
        tasks[job.key] = asyncio.create_task(self._run_job(client, job, next_tick))

    async def _run_job(self, client: httpx.AsyncClient, job: Job, next_tick: int) -> None:
        st = self.stats[job.key]
        with st.lock:
            st.started += 1
        began = time.time_ns()
        try:
            data, encoding = await self._fetch(client, job, next_tick)
            loop = asyncio.get_running_loop()
            item = await loop.run_in_executor(self._decoders, _item, job, data, encoding, began)
        except asyncio.CancelledError:
            self._failed(job, "stopped before the scrape finished")
            raise
        except (ScrapeError, ProfileLabError) as exc:
            self._failed(job, exc)
            return
        except Exception as exc:  # whatever went wrong, the scrape is counted
            self._failed(job, f"{type(exc).__name__}: {exc}")
            return
        try:
            fut = self.committer.submit([item])
        except ProfileLabError as exc:
            self._failed(job, exc)
            return
        fut.add_done_callback(lambda f: self._committed(job, len(data), f))

    def _failed(self, job: Job, exc: BaseException | str) -> None:
        st = self.stats[job.key]
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = text.removeprefix(f"{job.url}: ")
        with st.lock:
            st.failed += 1
            st.last_error = text
        self._log(f"scrape failed {job.url}: {text}", always=True)

    def _committed(self, job: Job, size: int, fut: Future[CommitResult]) -> None:
        exc = fut.exception()
        if exc is not None:
            self._failed(job, exc)
            return
        st = self.stats[job.key]
        with st.lock:
            st.ok += 1
        self._log(f"scraped {job.url}: {size} bytes")

    async def _fetch(
        self, client: httpx.AsyncClient, job: Job, next_tick: int
    ) -> tuple[bytes, str]:
        """GET within one deadline, retried with backoff while the next tick is ahead."""
        import httpx

        loop = asyncio.get_running_loop()
        deadline = loop.time() + job.timeout_s
        delay = 0.1
        for attempt in range(job.retries + 1):
            try:
                async with asyncio.timeout_at(deadline):
                    return await _get(client, job.url)
            except TimeoutError:
                raise ScrapeError(f"no complete answer within {job.timeout_s:g}s") from None
            except _Status as exc:
                if exc.code < 500 or attempt == job.retries:
                    raise
            except httpx.HTTPError as exc:
                if attempt == job.retries:
                    raise ScrapeError(_describe(exc)) from None
            ahead = loop.time() + delay
            if self.stop_event.is_set() or ahead >= deadline:
                break
            if time.monotonic_ns() + delay * _S >= next_tick:
                break
            await asyncio.sleep(delay)
            delay *= 2
        raise ScrapeError("gave up before the next scrape was due")

    def _log(self, text: str, always: bool = False) -> None:
        if always or self.verbose:
            print(f"profilelab scrape: {text}", file=sys.stderr, flush=True)

    def summary(self) -> str:
        lines = []
        for key, st in self.stats.items():
            err = f"  last error: {st.last_error}" if st.failed else ""
            lines.append(f"{key}: {st.ok} ok, {st.failed} failed, {st.missed} missed{err}")
        return "\n".join(lines)

    def never_succeeded(self) -> list[str]:
        """Jobs that were due at least once and never stored a profile."""
        return [k for k, st in self.stats.items() if st.ticks and not st.ok]


async def _get(client: httpx.AsyncClient, url: str) -> tuple[bytes, str]:
    """The body as sent (at most MAX_RESPONSE bytes) and its Content-Encoding."""
    async with client.stream("GET", url) as resp:
        if resp.status_code != 200:
            raise _Status(resp.status_code, resp.reason_phrase)
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_RESPONSE:
            raise ScrapeError(f"response of {declared} bytes is over {MAX_RESPONSE}")
        chunks, size = [], 0
        async for chunk in resp.aiter_raw():  # raw: we inflate it, bounded
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise ScrapeError(f"response larger than {MAX_RESPONSE} bytes")
            chunks.append(chunk)
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
    return b"".join(chunks), encoding


def _item(job: Job, body: bytes, encoding: str, began_ns: int) -> Item:
    """Decode a scraped body (on a decoder thread) into an item to store."""
    if encoding == "gzip":
        body = inflate_bounded(body, job.url, limit=MAX_INFLATED)
    elif encoding not in ("identity", ""):
        raise ScrapeError(f"unsupported Content-Encoding {encoding!r}")
    profile = load_bounded(body, job.url, MAX_INFLATED)
    return Item(
        profile,
        digest_bytes(body),
        name=job.endpoint.name,
        labels=job.labels,
        default_time_ns=began_ns,
        source=job.url,
    )


def _describe(exc: Exception) -> str:
    """httpx errors in one line (some have no message of their own)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    if kind == "RemoteProtocolError":
        return f"not an HTTP answer: {text}" if text else "not an HTTP answer"
    return f"{kind}: {text}" if text else kind
