"""Arguments shared by the store commands (ingest, query, store, scrape, serve)."""

from __future__ import annotations

import argparse
import re

from profilelab.errors import QueryError


def add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="DIR", help="the store directory")
    # Relative times start with a dash (--from -1h, --before -7d): argparse would take them
    # for options, as it takes everything but negative numbers. No store option is a dash
    # and a digit, so such a token is always a value.
    p._negative_number_matcher = re.compile(r"^-\d")  # type: ignore[attr-defined]


def add_labels(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="label every stored profile (repeatable; wins over the profile's own labels)",
    )


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """``["service=order", "region=eu"]`` as a dict; QueryError for a pair without '='."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise QueryError(f"bad --label {pair!r}: expected KEY=VALUE, e.g. service=order")
        labels[key.strip()] = value
    return labels


class _IntermixedParser(argparse.ArgumentParser):
    """A parser that lets positionals follow options (``query SEL --store D top``)."""

    _mixing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,override]
        if self._mixing:  # parse_known_intermixed_args calls back into this method
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def allow_intermixed(p: argparse.ArgumentParser) -> None:
    """Let ``p`` take its positionals before, between or after its options.

    argparse's sub-parsers cannot be given a class per command, so the instance's class is
    switched to a subclass that only overrides ``parse_known_args``.
    """
    p.__class__ = _IntermixedParser
