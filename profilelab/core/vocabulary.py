"""The words every command and API shares, importable without Polars (argument parsers
use them): granularities, transforms, report output formats."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from profilelab.errors import QueryError

#: pprof's granularities (``-functions``, ``-filefunctions``, ``-files``, ``-lines``,
#: ``-addresses``); the singular of each is accepted as an alias.
GRANULARITIES = ("functions", "filefunctions", "files", "lines", "addresses")
_SINGULAR = {g.removesuffix("es" if g.endswith("sses") else "s"): g for g in GRANULARITIES}

#: Call-tree transforms (see profilelab.core.transforms): name -> kind of argument.
TRANSFORMS: dict[str, str | None] = {
    "merge_function": "regex",
    "merge_call_node": "path",
    "focus_function": "regex",
    "focus_subtree": "path",
    "drop_function": "regex",
    "collapse_recursion": "regex",
    "collapse_direct_recursion": "regex",
    "collapse_package": "regex",
    "tagroot": "keys",
    "tagleaf": "keys",
    "left_heavy": None,
}


def transform_flag(name: str) -> str:
    """The command-line flag of a transform: ``merge_function`` -> ``--merge-function``."""
    return "--" + name.replace("_", "-")


def transform_args(specs: Iterable[Sequence[str | None]]) -> list[str]:
    """The command-line arguments that give ``specs`` (``[(name, argument), ...]``), in
    order: ``["--merge-function", "^a$", "--left-heavy"]``."""
    out: list[str] = []
    for name, *arg in specs:
        out.append(transform_flag(str(name)))
        if arg and arg[0] is not None:
            out.append(str(arg[0]))
    return out


#: Output formats of every command that prints a table.
FORMATS = ("text", "csv", "json")

#: The receiver's endpoints and default limits (profilelab.store.serve, ``profilelab serve``).
PATH = "/v1development/profiles"
TRACES_PATH = "/v1/traces"
PUSH_PATH = "/push.v1.PusherService/Push"  # Pyroscope's push API
INGEST_PATH = "/ingest"  # Pyroscope's older ingest API
MAX_BODY = 16 << 20  # bytes on the wire
MAX_INFLATED = 64 << 20  # bytes after gunzip (OTLP/JSON takes several times this to parse)
MAX_CONNECTIONS = 256  # open connections; uvicorn answers 503 past this


def granularity(name: str) -> str:
    """pprof's plural granularity for ``name`` (``function`` -> ``functions``)."""
    text = str(name).strip().lower()
    if text in GRANULARITIES:
        return text
    if text in _SINGULAR:
        return _SINGULAR[text]
    raise QueryError(f"granularity {name!r} is not one of {', '.join(GRANULARITIES)}")
