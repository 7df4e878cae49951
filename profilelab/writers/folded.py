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
"""

from __future__ import annotations

from typing import BinaryIO

import polars as pl

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.writers import Writer, register
from profilelab.writers._select import default_profile_rows, frame_names


def write(profile: Profile, out: BinaryIO) -> None:
    for chunk in lines(profile):
        out.write(chunk.encode("utf-8"))


def folded_names(frames: pl.DataFrame) -> pl.DataFrame:
    """frame_id -> name, with ``;`` and line breaks replaced (see the module contract)."""
    names = (
        frame_names(frames)
        .str.replace_all(";", ":", literal=True)
        .str.replace_all(r"[\x00-\x08\x0a-\x1f]", " ")  # line breaks, other controls
    )
    return pl.DataFrame({"frame_id": frames["frame_id"], "name": names})


def totals(profile: Profile) -> pl.DataFrame:
    """stack_id, value: the chosen sample type's total per stack, first-appearance order."""
    rows = default_profile_rows(profile)
    samples = profile.samples.join(
        rows.select("profile_id"), on="profile_id", how="semi", maintain_order="left"
    )
    per_stack = samples.group_by("stack_id", maintain_order=True).agg(pl.col("value").sum())
    negative = per_stack.filter(pl.col("value") < 0)
    if negative.height:
        raise QueryError(
            f"{negative.height} stacks have negative totals (a diff?); folded stacks hold "
            "non-negative counts only: write pprof (which keeps diffs) instead"
        )
    return per_stack.filter(pl.col("value") != 0)


def lines(profile: Profile, chunk_rows: int = 100_000) -> list[str]:
    """The folded text, in chunks of ``chunk_rows`` lines."""
    per_stack = totals(profile)
    names = folded_names(profile.frames)
    slots = (
        per_stack.join(profile.stacks, on="stack_id", how="left", maintain_order="left")
        .with_row_index("_row")
        .select("_row", "value", pl.col("frame_ids").alias("frame_id"))
        .explode("frame_id", empty_as_null=True)  # keep empty stacks (their values count)
        .join(names, on="frame_id", how="left", maintain_order="left")
    )
    folded = (
        slots.group_by("_row", maintain_order=True)
        .agg(
            pl.col("value").first(),
            pl.col("name").drop_nulls().reverse().str.join(";").alias("stack"),
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
