"""The pprof message encoder: chosen samples and the tables they use -> profile.proto bytes.

One method per message type, each building every message of its kind at once with
:mod:`profilelab.writers._pbenc` (no Python loop over samples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from profilelab.errors import QueryError
from profilelab.model.profile import Profile
from profilelab.writers import _pbenc as pb
from profilelab.writers._pprof_locations import Runs, unused_locations

if TYPE_CHECKING:
    from profilelab.writers.pprof import _Header

BASE_LABEL = ("pprof::base", "true")
SPAN_COLUMNS = ("trace_id", "span_id", "local_root_span_id")


class _Strings:
    """The message's string table: "" first, then each distinct string once."""

    def __init__(self, arrays: list[pa.Array]) -> None:
        parts = [pa.array([""], pa.large_string())]
        parts += [a.cast(pa.large_string()).drop_null() for a in arrays]
        self.table = pc.unique(pa.concat_arrays(parts))

    def index(self, values: pa.Array | pl.Series | list[str]) -> np.ndarray:
        if isinstance(values, pl.Series):
            values = values.to_arrow()
        elif isinstance(values, list):
            values = pa.array(values, pa.large_string())
        arr = values.cast(pa.large_string()).fill_null("")
        found = pc.index_in(arr, value_set=self.table)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _utf8(series: pl.Series) -> pa.Array:
    return series.cast(pl.Utf8).to_arrow()


# ---- the encoder ---------------------------------------------------------------------------


class Encoder:
    """Builds the pprof message of the chosen samples; one method per table."""

    def __init__(
        self, profile: Profile, header: _Header, samples: pl.DataFrame, *, keep_unused: bool
    ) -> None:
        self.p = profile
        self.h = header
        self.samples = samples
        self.keep_unused = keep_unused

    def encode(self) -> bytes:
        stacks = self._stacks()
        frames = self._frames(stacks)
        mappings = self._mappings(frames)
        label_rows, set_pos = self._label_sets()
        self.strings = _Strings(self._all_strings(frames, mappings, label_rows))
        functions, frame_fn = self._functions(frames)
        locations, stack_locs = self._locations(stacks, frames, frame_fn, mappings)
        return pb.join(
            self._sample_types(),
            self._encode_samples(stacks, stack_locs, label_rows, set_pos),
            self._encode_mappings(mappings),
            locations,
            self._encode_functions(functions),
            pb.bytes_field(6, pb.strings_blob(self.strings.table), keep_empty=True),
            self._scalars(),
        )

    # -- stacks and frames ---------------------------------------------------------------

    def _stacks(self) -> pl.DataFrame:
        """The distinct stacks of the written samples, in first-use order, with positions."""
        used = self.samples.select(pl.col("stack_id").unique(maintain_order=True))
        stacks = used.join(self.p.stacks, on="stack_id", how="left", maintain_order="left")
        if stacks["depth"].null_count():
            missing = stacks.filter(pl.col("depth").is_null())["stack_id"][0]
            raise QueryError(f"sample refers to stack {missing}, which is not in the stacks table")
        return stacks.with_row_index("_pos")

    def _frames(self, stacks: pl.DataFrame) -> pl.DataFrame:
        """The frames to write (used ones, or all with keep_unused) with a dense position ``_f``
        and their position ``_order`` in the frames table (locations are written in that order,
        so that reading the output back yields the same frames table)."""
        used = stacks.select(pl.col("frame_ids").explode().alias("frame_id")).drop_nulls()
        used = used.unique(maintain_order=True).with_columns(pl.lit(True).alias("_used"))
        table = self.p.frames.with_row_index("_order")
        if self.keep_unused:
            frames = table.join(used, on="frame_id", how="left", maintain_order="left")
        else:
            frames = used.join(table, on="frame_id", how="left", maintain_order="left")
        if frames["_order"].null_count():
            missing = frames.filter(pl.col("_order").is_null())["frame_id"][0]
            raise QueryError(f"a stack refers to frame {missing}, which is not in the frames table")
        return frames.with_row_index("_f").with_columns(
            pl.col("_used").fill_null(False),
            pl.col("inlined").fill_null(False),
            pl.col("folded").fill_null(False),
            pl.col("address").fill_null(0),
            *[pl.col(c).fill_null(0) for c in ("line", "column", "start_line")],
            *[pl.col(c).fill_null("") for c in ("system_name", "file")],
        )

    def _mappings(self, frames: pl.DataFrame) -> pl.DataFrame:
        """Mappings to write: every mapping for one input (round trips keep unused ones);
        for a merge the first mapping (pprof's main binary) and the referenced ones."""
        m = self.p.mappings.with_row_index("_order")
        if not self.keep_unused:
            used = frames.select("mapping_id").drop_nulls().unique()
            m = m.filter(
                (pl.col("_order") == 0) | pl.col("mapping_id").is_in(used["mapping_id"].implode())
            )
        return m.with_row_index("_m")

    def _label_sets(self) -> tuple[pl.DataFrame, np.ndarray]:
        """Label rows of the used label sets (grouped by set) and each sample's set position."""
        used = self.samples.select(pl.col("label_set_id").unique(maintain_order=True)).filter(
            pl.col("label_set_id") != 0
        )
        used = used.with_row_index("_set", offset=1)
        rows = self.p.labels.join(used, on="label_set_id", how="inner", maintain_order="left")
        rows = rows.sort("_set", maintain_order=True)
        set_pos = (
            self.samples.select("label_set_id")
            .join(used, on="label_set_id", how="left", maintain_order="left")["_set"]
            .fill_null(0)
            .to_numpy()
        )
        return rows, set_pos.astype(np.int64)

    def _all_strings(
        self, frames: pl.DataFrame, mappings: pl.DataFrame, labels: pl.DataFrame
    ) -> list[pa.Array]:
        h = self.h
        header = [t for pair in h.types for t in pair] + list(h.period_type)
        header += [h.drop_frames, h.keep_frames, h.doc_url, *h.comments, *SPAN_COLUMNS]
        header += list(BASE_LABEL)
        arrays = [pa.array(header, pa.large_string())]
        arrays += [_utf8(frames[c]) for c in ("function", "system_name", "file")]
        arrays += [_utf8(mappings[c]) for c in ("binary", "build_id")]
        arrays += [_utf8(labels[c]) for c in ("key", "str", "unit")]
        arrays += [_utf8(self.samples[c].drop_nulls().unique()) for c in SPAN_COLUMNS]
        return arrays

    def _functions(self, frames: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
        """Distinct functions (name, system name, file, start line); pprof id per frame."""
        key = ["function", "system_name", "file", "start_line"]
        named = frames.filter(pl.col("function").is_not_null())
        functions = named.select(key).unique(maintain_order=True).with_row_index("_id", offset=1)
        frame_fn = (
            frames.select(key)
            .join(functions, on=key, how="left", nulls_equal=False, maintain_order="left")["_id"]
            .fill_null(0)
            .to_numpy()
            .astype(np.int64)
        )
        return functions, frame_fn

    def _locations(
        self,
        stacks: pl.DataFrame,
        frames: pl.DataFrame,
        frame_fn: np.ndarray,
        mappings: pl.DataFrame,
    ) -> tuple[pb.Blob, pb.Blob]:
        """Regroup each stack's frames into locations; return locations and per-stack ids.

        Unused frames (kept with keep_unused) are regrouped by :func:`_unused_locations`,
        each location as one more stack.
        """
        flat_ids = stacks["frame_ids"].explode(empty_as_null=False).to_numpy().astype(np.int64)
        depth = stacks["frame_ids"].list.len().to_numpy().astype(np.int64)
        extra_ids, extra_depth = unused_locations(frames)
        for _ in range(2):
            runs = Runs(
                np.concatenate([flat_ids, extra_ids]), np.concatenate([depth, extra_depth]), frames
            )
            order_key, missing = runs.emission_order()
            standalone = self._standalone(frames, missing)
            if not len(standalone):
                break
            # A frame whose row no location introduces in order: the input had it as a
            # location of its own (unused); write that location too, then order again.
            extra_ids = np.concatenate([extra_ids, standalone])
            extra_depth = np.concatenate([extra_depth, np.ones(len(standalone), np.int64)])
        rank = np.empty(len(order_key), dtype=np.int64)
        rank[order_key] = np.arange(len(order_key))
        run_loc = rank[runs.inverse]  # location position of each run
        loc_runs = runs.first[order_key]  # the first run of each location, in location order
        cs = np.concatenate([[0], np.cumsum(runs.start)])
        stack_loc_ids = pb.group(pb.varints(run_loc + 1), cs[runs.stack_offsets[: len(stacks) + 1]])
        locations = self._encode_locations(
            loc_runs, runs.run_offsets, runs.fpos, frames, frame_fn, mappings
        )
        return locations, stack_loc_ids

    def _standalone(self, frames: pl.DataFrame, rows: list[int]) -> np.ndarray:
        """Frame ids of ``rows`` that can be a location alone (named, not inlined)."""
        if not self.keep_unused or not rows:
            return np.zeros(0, dtype=np.int64)
        picked = frames.filter(
            pl.col("_order").is_in(rows) & ~pl.col("inlined") & pl.col("function").is_not_null()
        )
        return picked["frame_id"].to_numpy().astype(np.int64)

    # -- encoding --------------------------------------------------------------------------

    def _sample_types(self) -> pb.Blob:
        types = self.h.types
        t = self.strings.index([x for x, _ in types])
        u = self.strings.index([y for _, y in types])
        return pb.bytes_field(1, pb.cat(pb.uint_field(1, t), pb.uint_field(2, u)), keep_empty=True)

    def _encode_samples(
        self,
        stacks: pl.DataFrame,
        stack_locs: pb.Blob,
        label_rows: pl.DataFrame,
        set_pos: np.ndarray,
    ) -> pb.Blob:
        s = self.samples
        n, n_types = s.height, len(self.h.types)
        stack_pos = (
            s.select("stack_id")
            .join(
                stacks.select("stack_id", "_pos"), on="stack_id", how="left", maintain_order="left"
            )["_pos"]
            .to_numpy()
            .astype(np.int64)
        )
        locs = pb.gather(pb.bytes_field(1, stack_locs), stack_pos)
        values = s.select([f"v{t}" for t in range(n_types)]).to_numpy().astype(np.int64)
        vals = pb.packed(2, values.ravel(), np.arange(0, n * n_types + 1, max(n_types, 1)))
        if n_types == 0:
            vals = pb.empty(n)
        labels = pb.gather(self._encode_label_sets(label_rows), set_pos)
        spans = [self._span_label(c) for c in SPAN_COLUMNS]
        base = self._constant_label(BASE_LABEL, s["is_base"].to_numpy())
        return pb.bytes_field(2, pb.cat(locs, vals, labels, *spans, base), keep_empty=True)

    def _label(
        self, key: np.ndarray, text: np.ndarray, num: np.ndarray, unit: np.ndarray
    ) -> pb.Blob:
        body = pb.cat(
            pb.uint_field(1, key),
            pb.uint_field(2, text),
            pb.uint_field(3, num),
            pb.uint_field(4, unit),
        )
        return pb.bytes_field(3, body, keep_empty=True)

    def _encode_label_sets(self, rows: pl.DataFrame) -> pb.Blob:
        """One record per label set position (0 = no labels), each its Label fields."""
        n_sets = int(rows["_set"].cast(pl.Int64).max() or 0) if rows.height else 0  # type: ignore[arg-type]
        is_str = rows["str"].is_not_null().to_numpy()
        labels = self._label(
            self.strings.index(rows["key"]),
            np.where(is_str, self.strings.index(rows["str"]), 0),
            np.where(is_str, 0, rows["num"].fill_null(0).to_numpy()),
            self.strings.index(rows["unit"]),
        )
        counts = np.bincount(rows["_set"].to_numpy().astype(np.int64), minlength=n_sets + 1)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return pb.group(labels, offsets)

    def _span_label(self, column: str) -> pb.Blob:
        values = self.samples[column]
        present = values.is_not_null().to_numpy()
        rows = np.nonzero(present)[0]
        key = np.full(len(rows), self.strings.index([column])[0], dtype=np.int64)
        text = self.strings.index(values.filter(values.is_not_null()))
        zero = np.zeros(len(rows), dtype=np.int64)
        return pb.spread(self._label(key, text, zero, zero), present)

    def _constant_label(self, label: tuple[str, str], present: np.ndarray) -> pb.Blob:
        k, v = self.strings.index(list(label))
        n = int(present.sum())
        zero = np.zeros(n, dtype=np.int64)
        body = self._label(np.full(n, k), np.full(n, v), zero, zero)
        return pb.spread(body, present)

    def _encode_mappings(self, m: pl.DataFrame) -> pb.Blob:
        def flag(col: str) -> np.ndarray:
            return m[col].fill_null(False).to_numpy().astype(np.int64)

        def u64(col: str) -> np.ndarray:
            return m[col].fill_null(0).to_numpy().astype(np.uint64).view(np.int64)

        body = pb.cat(
            pb.uint_field(1, m["_m"].to_numpy().astype(np.int64) + 1),
            pb.uint_field(2, u64("memory_start")),
            pb.uint_field(3, u64("memory_limit")),
            pb.uint_field(4, u64("file_offset")),
            pb.uint_field(5, self.strings.index(m["binary"])),
            pb.uint_field(6, self.strings.index(m["build_id"])),
            pb.uint_field(7, flag("has_functions")),
            pb.uint_field(8, flag("has_filenames")),
            pb.uint_field(9, flag("has_line_numbers")),
            pb.uint_field(10, flag("has_inline_frames")),
        )
        return pb.bytes_field(3, body, keep_empty=True)

    def _encode_locations(
        self,
        loc_runs: np.ndarray,
        run_offsets: np.ndarray,
        fpos: np.ndarray,
        frames: pl.DataFrame,
        frame_fn: np.ndarray,
        mappings: pl.DataFrame,
    ) -> pb.Blob:
        n_loc = len(loc_runs)
        run_start = run_offsets[loc_runs]
        run_len = run_offsets[loc_runs + 1] - run_start
        slot = np.repeat(run_start, run_len) + (
            np.arange(int(run_len.sum()), dtype=np.int64)
            - np.repeat(np.cumsum(run_len) - run_len, run_len)
        )
        line_frame = fpos[slot]  # frame position of every line, location by location
        caller = fpos[run_start + run_len - 1]  # the location's own (outermost) frame
        has_fn = frame_fn[line_frame] > 0
        line_owner = np.repeat(np.arange(n_loc, dtype=np.int64), run_len)[has_fn]
        line_frame = line_frame[has_fn]
        lines = pb.bytes_field(
            4,
            pb.cat(
                pb.uint_field(1, frame_fn[line_frame]),
                pb.uint_field(2, frames["line"].to_numpy()[line_frame]),
                pb.uint_field(3, frames["column"].to_numpy()[line_frame]),
            ),
            keep_empty=True,
        )
        line_offsets = np.concatenate([[0], np.cumsum(np.bincount(line_owner, minlength=n_loc))])
        mapping_pos = self._mapping_positions(frames, mappings)[caller]
        body = pb.cat(
            pb.uint_field(1, np.arange(1, n_loc + 1, dtype=np.int64)),
            pb.uint_field(2, mapping_pos + 1),
            pb.uint_field(3, frames["address"].to_numpy().astype(np.uint64)[caller].view(np.int64)),
            pb.group(lines, line_offsets.astype(np.int64)),
            pb.uint_field(5, frames["folded"].to_numpy()[caller].astype(np.int64)),
        )
        return pb.bytes_field(4, body, keep_empty=True)

    @staticmethod
    def _mapping_positions(frames: pl.DataFrame, mappings: pl.DataFrame) -> np.ndarray:
        """Position of each frame's mapping among the written ones (-1 for none)."""
        return (
            frames.select("mapping_id")
            .join(
                mappings.select("mapping_id", "_m"),
                on="mapping_id",
                how="left",
                maintain_order="left",
            )["_m"]
            .cast(pl.Int64)
            .fill_null(-1)
            .to_numpy()
        )

    def _encode_functions(self, f: pl.DataFrame) -> pb.Blob:
        body = pb.cat(
            pb.uint_field(1, f["_id"].to_numpy().astype(np.int64)),
            pb.uint_field(2, self.strings.index(f["function"])),
            pb.uint_field(3, self.strings.index(f["system_name"])),
            pb.uint_field(4, self.strings.index(f["file"])),
            pb.uint_field(5, f["start_line"].to_numpy().astype(np.int64)),
        )
        return pb.bytes_field(5, body, keep_empty=True)

    def _scalars(self) -> pb.Blob:
        h, idx = self.h, self.strings.index
        one = np.ones(1, dtype=bool)

        def scalar(field: int, value: int) -> pb.Blob:
            return pb.uint_field(field, np.array([value], dtype=np.int64))

        pt_t, pt_u = idx(list(h.period_type))
        period_type = pb.cat(scalar(1, int(pt_t)), scalar(2, int(pt_u)))
        if not any(h.period_type):
            period_type = pb.empty(1)
        comments = idx(h.comments) if h.comments else np.zeros(0, dtype=np.int64)
        default = int(idx([h.default_type])[0]) if h.default_type else 0
        del one
        return pb.cat(
            scalar(7, int(idx([h.drop_frames])[0])),
            scalar(8, int(idx([h.keep_frames])[0])),
            scalar(9, h.time_ns),
            scalar(10, h.duration_ns),
            pb.bytes_field(11, period_type),
            scalar(12, h.period),
            pb.packed(13, comments, np.array([0, len(comments)], dtype=np.int64)),
            scalar(14, default),
            scalar(15, int(idx([h.doc_url])[0])),
        )
