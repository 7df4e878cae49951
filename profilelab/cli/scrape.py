"""``profilelab scrape --config scrape.yaml --store DIR``: pull pprof endpoints on a schedule."""

from __future__ import annotations

import argparse
import signal
import sys

from profilelab.cli._common import add_command
from profilelab.cli._store_args import add_store


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "scrape",
        "Scrape pprof HTTP endpoints (Go net/http/pprof) into a store on a schedule.",
        "  profilelab scrape --config scrape.yaml --store profiles/\n"
        "  profilelab scrape --config scrape.yaml --store profiles/ --once\n"
        "  profilelab scrape --config scrape.yaml --store profiles/ --duration 10m -v\n"
        "scrape.yaml:\n"
        "  scrape_configs:\n"
        "    - job_name: order\n"
        "      scrape_interval: 15s\n"
        "      profiles: [cpu, heap, goroutine]\n"
        "      static_configs:\n"
        "        - targets: ['127.0.0.1:6060']\n"
        "          labels: {service: order}",
    )
    p.add_argument("--config", required=True, help="scrape configuration (YAML)")
    add_store(p)
    p.add_argument("--once", action="store_true", help="scrape every target once, then exit")
    p.add_argument("--duration", help="stop after this long (e.g. 10m); default: until Ctrl-C")
    p.add_argument("--verbose", "-v", action="store_true", help="log every scrape")
    p.epilog = (p.epilog or "") + (
        "\nExit status 1 when a target (and profile) was due but never scraped successfully."
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from profilelab.core.timeparse import parse_duration
    from profilelab.store import open_store
    from profilelab.store.scrape import Scraper, load_config

    jobs = load_config(args.config)
    duration = parse_duration(args.duration) / 1e9 if args.duration else None
    scraper = Scraper(open_store(args.store), jobs, verbose=args.verbose)
    signal.signal(signal.SIGTERM, lambda *_: scraper.stop())
    print(f"profilelab scrape: {len(jobs)} jobs", file=sys.stderr, flush=True)
    try:
        scraper.run(duration, once=args.once)
    except KeyboardInterrupt:
        scraper.stop()
    print(scraper.summary(), file=sys.stderr)
    never = scraper.never_succeeded()
    if never:
        shown = ", ".join(never[:5]) + (f" and {len(never) - 5} more" if len(never) > 5 else "")
        print(f"profilelab: error: never scraped successfully: {shown}", file=sys.stderr)
    return 1 if never else 0
