"""speedscope writer: the JSON file format of https://www.speedscope.app (file-format-schema.json).

Contract:

* **One "sampled" profile per profile row** (input x sample type), or only the chosen
  type's (``write(..., sample_type=...)``); ``activeProfileIndex`` is the first default
  type. Units map to speedscope's (nanoseconds ... seconds, bytes); others become ``none``.
* **Frames are functions**: one speedscope frame per (function name, file), with the
  function's start line; unsymbolized frames are named ``0x<address>``. Line numbers of
  call sites, addresses, labels and span ids are lost.
* **Samples**: stacks root first. Samples with a time (OTLP, Chrome) stay one per sample,
  in time order, so speedscope's time-order view means something; otherwise samples are
  summed per stack. Zero weights are left out; negative weights (diffs) are refused, as
  speedscope rejects them.
* **Hostile names** are JSON strings; ``<``, ``>``, ``&``, U+2028 and U+2029 are also
  escaped (``\\u003c`` ...) so the file can be embedded in an HTML page as is.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import polars as pl

from profilelab._version import __version__
from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.writers import Writer, register
from profilelab.writers._select import frame_names

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
_UNITS = {"nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}
_HTML_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def write(profile: Profile, out: BinaryIO) -> None:
    out.write(dumps(document(profile)).encode("utf-8"))


def dumps(doc: dict[str, Any]) -> str:
    """Compact JSON, safe to embed in HTML."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in _HTML_ESCAPES.items():
        text = text.replace(ch, esc)
    return text


def document(profile: Profile) -> dict[str, Any]:
    """The speedscope file as a dict."""
    if profile.profiles.height == 0:
        raise QueryError("nothing to write: the profile has no sample types")
    frames, frame_index = _frames(profile)
    profiles: list[dict[str, Any]] = []
    active = None
    for row in profile.profiles.iter_rows(named=True):
        if row["is_default"] and active is None:
            active = len(profiles)
        profiles.append(_sampled(profile, row, frame_index))
    sources = profile.profiles["source"].unique(maintain_order=True).to_list()
    return {
        "$schema": SCHEMA,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": ", ".join(sources) if sources else "profile",
        "activeProfileIndex": active or 0,
        "exporter": f"profilelab {__version__}",
    }


def _frames(profile: Profile) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """speedscope frames (one per function name and file) and frame_id -> index."""
    f = profile.frames
    table = pl.DataFrame(
        {
            "frame_id": f["frame_id"],
            "name": frame_names(f),
            "file": f["file"].fill_null(""),
            "start": f["start_line"].fill_null(0),
        }
    )
    keys = table.select("name", "file").unique(maintain_order=True).with_row_index("index")
    table = table.join(keys, on=["name", "file"], how="left", maintain_order="left")
    first = table.group_by("index", maintain_order=True).agg(pl.col("start").first()).sort("index")
    keys = keys.join(first, on="index", how="left", maintain_order="left")
    frames = []
    for name, file, start in keys.select("name", "file", "start").iter_rows():
        frame: dict[str, Any] = {"name": name}
        if file:
            frame["file"] = file
        if start:
            frame["line"] = start
        frames.append(frame)
    return frames, table.select("frame_id", pl.col("index").cast(pl.Int64))


def _sampled(profile: Profile, row: dict[str, Any], frame_index: pl.DataFrame) -> dict[str, Any]:
    samples = profile.samples.filter(pl.col("profile_id") == row["profile_id"])
    timed = samples["time_ns"].null_count() < samples.height
    if timed:
        samples = samples.sort("time_ns", "sample_index", nulls_last=True)
    else:
        samples = samples.group_by("stack_id", maintain_order=True).agg(pl.col("value").sum())
    negative = samples.filter(pl.col("value") < 0)
    if negative.height:
        raise QueryError(
            f"{row['source']} {row['sample_type']}: {negative.height} negative weights (a diff?);"
            " speedscope only takes non-negative weights: write pprof instead"
        )
    samples = samples.filter(pl.col("value") != 0).with_row_index("_row")
    stacks = (
        samples.select("_row", "stack_id")
        .join(profile.stacks.select("stack_id", "frame_ids"), on="stack_id", how="left")
        .explode("frame_ids", empty_as_null=True)  # keep empty stacks
        .join(
            frame_index, left_on="frame_ids", right_on="frame_id", how="left", maintain_order="left"
        )
        .group_by("_row", maintain_order=True)
        .agg(pl.col("index").drop_nulls().reverse())
        .sort("_row")
    )
    weights = samples["value"].to_list()
    unit = row["sample_unit"] if row["sample_unit"] in _UNITS else "none"
    return {
        "type": "sampled",
        "name": f"{row['source']}: {row['sample_type']}",
        "unit": unit,
        "startValue": 0,
        "endValue": int(sum(weights)),
        "samples": stacks["index"].to_list(),
        "weights": weights,
    }


register(Writer("speedscope", write, (".speedscope.json",)))
