"""Folded stacks writer: ``root;caller;leaf value`` lines, for flamegraph.pl, inferno, speedscope.

Contract:

* **One sample type.** The chosen one (``write(..., sample_type=...)``, the CLI's
  ``--sample-index``), else the only one present, else the inputs' common default type;
  otherwise :class:`QueryError` asks to choose.
* **One line per distinct stack of names**, values summed over samples, inputs and
  stacks that differ only in lines or addresses (totals are conserved), in order of first
  appearance; zero totals are left out. Negative totals
  (diffs) are refused: folded readers take non-negative counts only.
* **Frames** are named by their function (``0x<address>`` when unsymbolized); inlined
  frames are frames of their own. Lost: files, lines, addresses of symbolized frames,
  labels, span ids, times, units (the value is written in the sample type's unit).
* **Hostile names**: ``;`` (the separator) is replaced by ``:`` and control characters
  other than tab (line breaks included) by spaces; nothing else is changed (the format
  has no escaping).

Options, for the flame graphs stackcollapse-perf.pl (FlameGraph) makes of ``perf script``
(:class:`FoldedOptions`; ``profilelab convert --root/--annotate/--unknown``):

* ``root``: a root frame per process from the samples' ``comm``/``pid``/``tid`` labels:
  ``comm``, ``pid`` (``comm-pid``, ``?`` without a pid) or ``tid`` (``comm-pid/tid``),
  spaces made ``_`` (the script always adds ``comm``; ``--pid``, ``--tid``).
* ``annotate``: ``kernel`` adds ``_[k]`` to frames of kernel binaries (``[...]`` or
  ``...vmlinux``), ``jit`` adds ``_[j]`` to frames of perf maps (``/tmp/perf-PID.map``),
  ``inline`` adds ``_[i]`` to inlined frames (``--kernel``, ``--jit``, ``--all``).
* ``unknown``: how frames without a symbol are named: ``address`` (``0x..``, the
  default), ``binary`` (``[libc.so.6]``, ``[unknown]`` without a binary: the script's
  default) or ``binary-address`` (``[libc.so.6 <7f12ab>]``: ``--addrs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import polars as pl

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.writers import Writer, register
from profilelab.writers._select import default_profile_rows, frame_names, hex_addresses

ROOTS = ("", "comm", "pid", "tid")
ANNOTATIONS = ("kernel", "jit", "inline")
UNKNOWN = ("address", "binary", "binary-address")


@dataclass(frozen=True)
class FoldedOptions:
    """How stacks are written (module doc): root frame, annotations, unsymbolized frames."""

    root: str = ""
    annotate: frozenset[str] = frozenset()
    unknown: str = "address"

    def __post_init__(self) -> None:
        if self.root not in ROOTS:
            raise QueryError(f"folded root {self.root!r}: expected one of comm, pid, tid")
        if not self.annotate <= set(ANNOTATIONS):
            bad = ", ".join(sorted(self.annotate - set(ANNOTATIONS)))
            raise QueryError(f"folded annotation {bad}: expected kernel, jit or inline")
        if self.unknown not in UNKNOWN:
            raise QueryError(f"folded unknown {self.unknown!r}: expected {', '.join(UNKNOWN)}")


def write(
    profile: Profile,
    out: BinaryIO,
    *,
    root: str = "",
    annotate: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
    unknown: str = "address",
) -> None:
    options = FoldedOptions(root, frozenset(annotate), unknown)
    for chunk in lines(profile, options=options):
        out.write(chunk.encode("utf-8"))


def folded_names(
    frames: pl.DataFrame,
    mappings: pl.DataFrame | None = None,
    options: FoldedOptions | None = None,
) -> pl.DataFrame:
    """frame_id -> name, with ``;`` and line breaks replaced (see the module contract);
    with ``options``, unsymbolized frames and annotations as they ask."""
    names = frame_names(frames)
    if options is not None and (options.annotate or options.unknown != "address"):
        names = _perf_names(frames, names, mappings, options)
    names = names.str.replace_all(";", ":", literal=True).str.replace_all(
        r"[\x00-\x08\x0a-\x1f]", " "
    )  # line breaks, other controls
    return pl.DataFrame({"frame_id": frames["frame_id"], "name": names})


def _perf_names(
    frames: pl.DataFrame,
    names: pl.Series,
    mappings: pl.DataFrame | None,
    options: FoldedOptions,
) -> pl.Series:
    """Names as stackcollapse-perf.pl writes them (module doc: unknown, annotate)."""
    binary = pl.Series("binary", [None] * frames.height, dtype=pl.Utf8)
    if mappings is not None and mappings.height:
        binary = frames.select("mapping_id").join(
            mappings.select("mapping_id", "binary"),
            on="mapping_id",
            how="left",
            maintain_order="left",
        )["binary"]
    df = pl.DataFrame({"name": names, "binary": binary, "function": frames["function"]})
    df = df.with_columns(
        address=frames["address"].fill_null(0), inlined=frames["inlined"].fill_null(False)
    )
    base = pl.col("binary").str.replace(r".*/", "")
    label = (
        pl.when(pl.col("binary").is_null() | (pl.col("binary") == ""))
        .then(pl.lit("unknown"))
        .otherwise(base)
    )
    if options.unknown == "binary-address":
        hexed = pl.Series(hex_addresses(frames["address"].fill_null(0).to_numpy()))
        df = df.with_columns(pc=hexed.str.strip_prefix("0x"))
        label = pl.concat_str(label, pl.lit(" <"), pl.col("pc"), pl.lit(">"))
    name = pl.col("name")
    if options.unknown != "address":
        name = (
            pl.when(pl.col("function").is_null())
            .then(pl.concat_str(pl.lit("["), label, pl.lit("]")))
            .otherwise(name)
        )
    kernel = pl.col("binary").str.contains(r"^\[|vmlinux$") & ~pl.col("binary").str.contains(
        "unknown", literal=True
    )
    jit = pl.col("binary").str.contains(r"/tmp/perf-\d+\.map")
    out = name
    if "jit" in options.annotate:
        out = (
            pl.when(jit.fill_null(False) & ~name.str.contains("_[j]", literal=True))
            .then(pl.concat_str(name, pl.lit("_[j]")))
            .otherwise(out)
        )
    if "kernel" in options.annotate:
        out = (
            pl.when(kernel.fill_null(False))
            .then(pl.concat_str(name, pl.lit("_[k]")))
            .otherwise(out)
        )
    if "inline" in options.annotate:
        out = (
            pl.when(pl.col("inlined") & ~name.str.contains("_[i]", literal=True))
            .then(pl.concat_str(name, pl.lit("_[i]")))
            .otherwise(out)
        )
    return df.select(out.alias("name")).to_series()


def totals(profile: Profile, root: str = "") -> pl.DataFrame:
    """stack_id, value (and ``_root`` with a root option): the chosen sample type's total
    per stack, first-appearance order."""
    rows = default_profile_rows(profile)
    samples = profile.samples.join(
        rows.select("profile_id"), on="profile_id", how="semi", maintain_order="left"
    )
    keys = ["stack_id"]
    if root:
        samples = samples.join(
            _roots(profile, root), on="label_set_id", how="left", maintain_order="left"
        ).with_columns(pl.col("_root").fill_null(_root_name(pl.lit(None, pl.Utf8), root)))
        keys.append("_root")
    per_stack = samples.group_by(keys, maintain_order=True).agg(pl.col("value").sum())
    negative = per_stack.filter(pl.col("value") < 0)
    if negative.height:
        raise QueryError(
            f"{negative.height} stacks have negative totals (a diff?); folded stacks hold "
            "non-negative counts only: write pprof (which keeps diffs) instead"
        )
    return per_stack.filter(pl.col("value") != 0)


def _roots(profile: Profile, root: str) -> pl.DataFrame:
    """label_set_id -> root frame name from the comm/pid/tid labels."""
    labels = profile.labels.filter(pl.col("key").is_in(["comm", "pid", "tid"]))
    per_set = labels.group_by("label_set_id").agg(
        *(pl.col("str").filter(pl.col("key") == k).first().alias(k) for k in ("comm", "pid", "tid"))
    )
    return per_set.select("label_set_id", _root_name(pl.col("comm"), root, per_set=True))


def _root_name(comm: pl.Expr, root: str, per_set: bool = False) -> pl.Expr:
    """stackcollapse-perf.pl's process name: comm, comm-pid or comm-pid/tid, spaces as _."""
    parts = [comm.fill_null("")]
    if root in ("pid", "tid"):
        pid = pl.col("pid").fill_null("?") if per_set else pl.lit("?")
        parts += [pl.lit("-"), pid]
    if root == "tid":
        parts += [pl.lit("/"), pl.col("tid").fill_null("") if per_set else pl.lit("")]
    return pl.concat_str(parts).str.replace_all(" ", "_", literal=True).alias("_root")


def lines(
    profile: Profile, chunk_rows: int = 100_000, options: FoldedOptions | None = None
) -> list[str]:
    """The folded text, in chunks of ``chunk_rows`` lines."""
    options = options or FoldedOptions()
    per_stack = totals(profile, options.root)
    names = folded_names(profile.frames, profile.mappings, options)
    if not options.root:
        per_stack = per_stack.with_columns(_root=pl.lit(None, pl.Utf8))
    slots = (
        per_stack.join(profile.stacks, on="stack_id", how="left", maintain_order="left")
        .with_row_index("_row")
        .select("_row", "value", "_root", pl.col("frame_ids").alias("frame_id"))
        .explode("frame_id", empty_as_null=True)  # keep empty stacks (their values count)
        .join(names, on="frame_id", how="left", maintain_order="left")
    )
    folded = (
        slots.group_by("_row", maintain_order=True)
        .agg(
            pl.col("value").first(),
            pl.col("_root").first(),
            pl.col("name").drop_nulls().reverse().str.join(";").alias("stack"),
        )
        .with_columns(
            stack=pl.when(pl.col("_root").is_null())
            .then("stack")
            .when(pl.col("stack") == "")
            .then("_root")
            .otherwise(pl.concat_str("_root", pl.lit(";"), "stack"))
        )
        # stacks that differ only in lines or addresses fold into one line
        .group_by("stack", maintain_order=True)
        .agg(pl.col("value").sum())
    )
    text = folded.select(pl.concat_str("stack", pl.lit(" "), pl.col("value"), pl.lit("\n")))
    column = text.to_series()
    return [
        "".join(column.slice(i, chunk_rows).to_list()) for i in range(0, len(column), chunk_rows)
    ]


register(Writer("folded", write, (".folded", ".collapsed")))
