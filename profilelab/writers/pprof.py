"""pprof writer: any Profile as gzip-compressed profile.proto, readable by ``go tool pprof``.

Contract (docs/formats.md has the long form):

* **One message.** The sample types of one input (one ``source_id``) become the message's
  sample types, in ``sample_type_index`` order. When the Profile holds several inputs they
  are merged as ``go tool pprof a b`` / ``profile.Merge`` does, provided every input has the
  same sample types and period type (else :class:`QueryError` asks to select one):
  samples with the same stack, labels and span ids are combined by summing, time is the
  earliest, duration the sum, period the largest, comments the union. Totals are conserved.
* **Samples** are written in ``sample_index`` order; an input whose sample types hold
  different sample sets (one type filtered) gets 0 for the missing values.
* **Frames regroup into locations**: a frame with ``inlined=True`` shares the location of
  the next frame towards the root, as pprof's inline expansion made it (Location.line[0]
  is the innermost call). Frames with no function become locations without lines.
* **Labels** come back as pprof labels (numeric ones with their unit); the span columns
  become string labels ``trace_id``, ``span_id`` and ``local_root_span_id`` (hex).
* **Lost:** per-sample ``time_ns`` and profile-level ``labels`` (pprof has no field for
  them), ``source`` and ``format``.
* **Diffs** (:func:`write_diff`) are written as ``go tool pprof -diff_base`` builds them: the
  base's samples negated and labelled ``pprof::base=true``, merged into the same message.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from profilelab.errors import QueryError
from profilelab.model import ids
from profilelab.model.profile import Profile
from profilelab.writers import Writer, register
from profilelab.writers import _pbenc as pb

BASE_LABEL = ("pprof::base", "true")
_SPAN_COLUMNS = ("trace_id", "span_id", "local_root_span_id")
_GZIP_LEVEL = 6


def write(profile: Profile, out: BinaryIO) -> None:
    """Write ``profile`` as one gzip-compressed pprof message."""
    out.write(encode(profile))


def write_diff(profile: Profile, base: Profile, out: BinaryIO) -> None:
    """Write ``profile`` minus ``base`` the way ``go tool pprof -diff_base=base`` merges them."""
    out.write(encode(profile, base=base))


def encode(
    profile: Profile,
    *,
    base: Profile | None = None,
    keep_unused: bool | None = None,
    compress: bool = True,
) -> bytes:
    """The pprof bytes of ``profile`` (and of a negated, labelled ``base``, when given).

    ``keep_unused`` also writes frames and mappings that no written sample uses (default:
    when the Profile holds a single input, so that pprof -> tables -> pprof is exact).
    """
    parts = _sources(profile, negate=False)
    if base is not None:
        parts += _sources(base, negate=True)
        profile = Profile.concat([profile, base])
    if not parts:
        raise QueryError("nothing to write: the profile has no sample types")
    header = _merged_header(parts)
    samples = _wide_samples(profile, parts)
    keep = len(parts) == 1 if keep_unused is None else keep_unused
    data = _Encoder(profile, header, samples, keep_unused=keep).encode()
    return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0) if compress else data


# ---- which samples: sources, merged header, one row per sample ----------------------------


@dataclass(frozen=True)
class _Source:
    """The profile rows (sample types) of one input, in sample_type_index order."""

    rows: pl.DataFrame
    negate: bool

    @property
    def types(self) -> list[tuple[str, str]]:
        return list(self.rows.select("sample_type", "sample_unit").iter_rows())

    @property
    def period_type(self) -> tuple[str, str]:
        return (self.rows["period_type"][0] or "", self.rows["period_unit"][0] or "")

    def describe(self) -> str:
        types = ",".join(f"{t}/{u}" for t, u in self.types)
        return f"{self.rows['source'][0]} [{types}]"


def _sources(profile: Profile, *, negate: bool) -> list[_Source]:
    rows = profile.profiles.with_row_index("_order")
    order = rows.group_by("source_id").agg(pl.col("_order").min()).sort("_order")
    return [
        _Source(rows.filter(pl.col("source_id") == sid).sort("sample_type_index"), negate)
        for sid in order["source_id"]
    ]


@dataclass(frozen=True)
class _Header:
    types: list[tuple[str, str]]
    default_type: str | None  # written only when it is not the last type
    period_type: tuple[str, str]
    period: int
    time_ns: int
    duration_ns: int
    drop_frames: str
    keep_frames: str
    comments: list[str]
    doc_url: str


def _merged_header(parts: list[_Source]) -> _Header:
    """pprof's combineHeaders: same types required; earliest time, summed duration, max period."""
    first = parts[0]
    for other in parts[1:]:
        if other.types != first.types or other.period_type != first.period_type:
            raise QueryError(
                "cannot write inputs with different sample types into one pprof profile: "
                f"{first.describe()} vs {other.describe()}; select one input or one sample "
                "type (profilelab convert --sample-index, or filter the profiles table)"
            )
    rows = pl.concat([p.rows for p in parts])
    times = [t for t in rows["time_ns"].to_list() if t]
    comments: list[str] = []
    for source in parts:
        for c in source.rows["comments"].to_list()[0] or []:
            if c not in comments:
                comments.append(c)
    defaults = first.rows.with_row_index("_pos").filter(pl.col("is_default"))
    default_type = None
    if defaults.height and defaults["_pos"][0] != first.rows.height - 1:
        default_type = defaults["sample_type"][0]
    docs = [d for d in rows["doc_url"].to_list() if d]
    return _Header(
        types=first.types,
        default_type=default_type,
        period_type=first.period_type,
        period=max((p or 0) for p in rows["period"].to_list()),
        time_ns=min(times) if times else 0,
        duration_ns=sum(p.rows["duration_ns"][0] or 0 for p in parts),
        drop_frames=first.rows["drop_frames"][0] or "",
        keep_frames=first.rows["keep_frames"][0] or "",
        comments=comments,
        doc_url=docs[0] if docs else "",
    )


def _wide_samples(profile: Profile, parts: list[_Source]) -> pl.DataFrame:
    """One row per written sample: stack, label set, span ids, is_base, v0..vN."""
    n_types = len(parts[0].types)
    blocks = []
    for source in parts:
        pos = source.rows.select("profile_id", pl.int_range(pl.len()).alias("_t"))
        s = profile.samples.join(pos, on="profile_id", how="inner")
        values = [
            pl.col("value").filter(pl.col("_t") == t).sum().alias(f"v{t}") for t in range(n_types)
        ]
        wide = (
            s.group_by("sample_index")
            .agg(
                pl.col("stack_id").first(),
                pl.col("label_set_id").first(),
                *[pl.col(c).drop_nulls().first() for c in _SPAN_COLUMNS],
                *values,
            )
            .sort("sample_index")
        )
        if source.negate:
            wide = wide.with_columns([-pl.col(f"v{t}") for t in range(n_types)])
        blocks.append(wide.with_columns(pl.lit(source.negate).alias("is_base")))
    wide = pl.concat(blocks)
    if len(parts) > 1:  # pprof's Merge: samples with equal stack and labels are combined
        keys = ["stack_id", "label_set_id", *_SPAN_COLUMNS, "is_base"]
        wide = wide.group_by(keys, maintain_order=True).agg(
            [pl.col(f"v{t}").sum() for t in range(n_types)]
        )
    return wide


class _Runs:
    """Stacks (CSR of frame ids) cut into location runs, and the distinct runs."""

    def __init__(self, flat_ids: np.ndarray, depth: np.ndarray, frames: pl.DataFrame) -> None:
        self.stack_offsets = np.zeros(len(depth) + 1, dtype=np.int64)
        np.cumsum(depth, out=self.stack_offsets[1:])
        all_ids = frames["frame_id"].to_numpy()
        order = np.argsort(all_ids, kind="stable")
        self.fpos = order[np.searchsorted(all_ids[order], flat_ids)]  # frame row per slot
        inlined = frames["inlined"].to_numpy()[self.fpos]
        # A location starts at each stack's leaf and after every frame that is not inlined.
        self.start = np.ones(len(flat_ids), dtype=bool)
        self.start[1:] = ~inlined[:-1]
        self.start[self.stack_offsets[:-1][depth > 0]] = True
        self.run_offsets = np.append(np.nonzero(self.start)[0], len(flat_ids)).astype(np.int64)
        key = ids.hash_sequences(flat_ids.view(np.uint64), self.run_offsets)
        _, self.first, self.inverse = np.unique(key, return_index=True, return_inverse=True)
        self.table_pos = frames["_order"].to_numpy()[self.fpos]

    def emission_order(self) -> tuple[np.ndarray, list[int]]:
        loc_offsets = np.concatenate([[0], np.cumsum(np.diff(self.run_offsets)[self.first])])
        slots = _csr_take(self.run_offsets, self.first)
        return _emission_order(loc_offsets.astype(np.int64), self.table_pos[slots])


def _unused_locations(frames: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Frames no stack uses, regrouped into locations: (frame ids, frames per location).

    Reading pprof emits a location's frames consecutively (innermost first, the caller
    last, all with the location's address, mapping and folded flag), except frames already
    emitted for another location. So a run of unused frames ends after a frame that is not
    inlined or where that key changes; a run that ends on an inlined frame is completed by
    :func:`_callers`. Loops over unused frames only (pprof inputs have few).
    """
    cols = frames.select(
        "frame_id",
        "inlined",
        pl.struct("address", "mapping_id", "folded").alias("key"),  # shared by a location
        "_used",
        pl.col("function").is_not_null(),
    ).rows()
    unused = [i for i, row in enumerate(cols) if not row[3]]
    runs: list[list[int]] = []
    for i in unused:
        _, _, key, _, named = cols[i]
        last = runs[-1] if runs else None
        if named and last and cols[last[-1]][1] and cols[last[-1]][2] == key:
            last.append(i)
        else:
            runs.append([i])
    ids: list[int] = []
    depth: list[int] = []
    for run in runs:
        if cols[run[-1]][1]:  # inlined last frame: find the rest of its location
            run = run + _callers(cols, run[-1])
        ids += [cols[j][0] for j in run]
        depth.append(len(run))
    return np.array(ids, dtype=np.int64), np.array(depth, dtype=np.int64)


def _callers(cols: list[tuple[Any, ...]], last: int) -> list[int]:
    """The used frames that complete a location whose unused frames end at row ``last``:
    the rows right after it when they finish the location (it introduced them), else the
    nearest earlier non-inlined frame with a function, the same address, mapping and
    folded flag."""
    key = cols[last][2]
    ahead = []
    for j in range(last + 1, len(cols)):
        if not cols[j][4] or cols[j][2] != key:
            break
        ahead.append(j)
        if not cols[j][1]:
            return ahead
    for j in range(last - 1, -1, -1):
        if not cols[j][1] and cols[j][4] and cols[j][2] == key:
            return [j]
    return []


def _csr_take(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The flat positions of CSR ``rows`` (in the given order), concatenated."""
    start = offsets[:-1][rows]
    length = offsets[1:][rows] - start
    shift = np.repeat(start - (np.cumsum(length) - length), length)
    return shift + np.arange(int(length.sum()), dtype=np.int64)


def _emission_order(offsets: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """An order of locations whose frames, emitted location by location and deduplicated,
    come out in frames-table order (``positions``: each location's frames' table rows).

    Reading pprof builds the frames table exactly that way, so writing locations in this
    order makes a round trip keep the frames table's row order. Greedy over table rows:
    for the next row not yet emitted, pick a location that introduces exactly the next
    rows in order. Loops over locations, never over samples. Also returns the rows no
    location introduces that way (a standalone location of that frame would).
    """
    n = len(offsets) - 1
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    n_rows = int(positions.max()) + 1 if len(positions) else 0
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    by_row = np.argsort(positions, kind="stable")
    row_starts = np.searchsorted(positions[by_row], np.arange(n_rows + 1))
    seqs = [positions[offsets[i] : offsets[i + 1]].tolist() for i in range(n)]
    done = np.zeros(n_rows, dtype=bool)
    emitted = np.zeros(n, dtype=bool)
    order: list[int] = []
    missing: list[int] = []
    for row in range(n_rows):
        if done[row]:
            continue
        candidates = owner[by_row[row_starts[row] : row_starts[row + 1]]].tolist()
        chosen = next(
            (c for c in candidates if not emitted[c] and _introduces(seqs[c], done, row)), None
        )
        if chosen is None:
            missing.append(row)
            chosen = next((c for c in candidates if not emitted[c]), None)
            if chosen is None:
                continue
        emitted[chosen] = True
        order.append(chosen)
        done[seqs[chosen]] = True
    order += np.nonzero(~emitted)[0].tolist()
    return np.asarray(order, dtype=np.int64), missing


def _introduces(seq: list[int], done: np.ndarray, row: int) -> bool:
    """Whether emitting ``seq`` now adds exactly rows ``row, row + 1, ...`` in that order."""
    fresh = [p for p in seq if not done[p]]
    return fresh == list(range(row, row + len(fresh)))


# ---- strings --------------------------------------------------------------------------------


class _Strings:
    """The message's string table: "" first, then each distinct string once."""

    def __init__(self, arrays: list[pa.Array]) -> None:
        parts = [pa.array([""], pa.large_string())]
        parts += [a.cast(pa.large_string()).fill_null("") for a in arrays]
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


class _Encoder:
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
        header += [h.drop_frames, h.keep_frames, h.doc_url, *h.comments, *_SPAN_COLUMNS]
        header += list(BASE_LABEL)
        arrays = [pa.array(header, pa.large_string())]
        arrays += [_utf8(frames[c]) for c in ("function", "system_name", "file")]
        arrays += [_utf8(mappings[c]) for c in ("binary", "build_id")]
        arrays += [_utf8(labels[c]) for c in ("key", "str", "unit")]
        arrays += [_utf8(self.samples[c]) for c in _SPAN_COLUMNS]
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
        extra_ids, extra_depth = _unused_locations(frames)
        for _ in range(2):
            runs = _Runs(
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
        spans = [self._span_label(c) for c in _SPAN_COLUMNS]
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


register(Writer("pprof", write, (".pb.gz", ".pprof", ".pb")))
