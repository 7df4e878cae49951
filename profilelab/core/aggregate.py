"""The one aggregation: flat and cum per node, per stack, per label, per profile.

Every consumer sums the same way (pprof's semantics):

* **flat** of a node: the value of the stacks whose leaf frame (the one that "takes" the
  flat value) is that node;
* **cum** of a node: the value of the stacks with the node anywhere, each stack counted
  once however often the node recurs in it (recursion counted once).

Inputs are columnar and per *distinct stack*, never per sample: ``frames`` has one row per
(stack, frame position) with the node ``key`` and ``leaf`` (true on the frame that takes
the flat value); ``values`` has one row per stack (and per group of the ``by`` columns)
with the summed sample values. Flame tables (``views/flame.py``), analyses
(``analysis/_totals.py``), span analyses, store queries and the store's function index
(``store/functions.py``) call :func:`flat_cum`; flame
trees and pprof reports (``ops/graph.py``: millions of stack rows, already grouped by
stack) call :func:`csr_flat_cum`, the same sums over CSR key paths in NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import polars as pl

from profilelab.model import _arrow
from profilelab.model.names import frame_function_names
from profilelab.model.profile import Profile

_lookup: ModuleType | None
try:  # the compiled sums (built by pip install; without a compiler, SciPy's products)
    from profilelab._native import _lookup
except ImportError:  # pragma: no cover - without the compiled kernels
    _lookup = None


def flat_cum(
    frames: pl.DataFrame,
    values: pl.DataFrame,
    *,
    by: Sequence[str] = (),
    value_cols: Sequence[str] = ("value",),
    stack: str = "stack_id",
    key: str = "key",
) -> pl.DataFrame:
    """Per (``by``..., key): ``flat_<c>`` and ``cum_<c>`` for every value column ``c``.

    The (group x stack) values times the (stack x key) incidence, each (stack, key) pair
    once (cum: recursion counted once), and times the leaf incidence (flat): by the
    compiled kernel (``_lookup.group_flat_cum``, one pass over each group's rows) for
    integer values when it was built, else as two sparse products (SciPy; also the
    kernel's reference in the tests). ``values`` may hold several rows per (group,
    stack): they add up. Null keys and null ``by`` values are keys and groups like the
    others; rows of a null stack count nowhere. Keys whose flat and cum are all zero are
    left out (pprof's graph keeps no such node). Rows come ordered by group, then key.
    """
    by = list(by)
    vals = list(value_cols)
    out_cols = [f"flat_{c}" for c in vals] + [f"cum_{c}" for c in vals]
    frames = frames.select(stack, key, "leaf").filter(pl.col(stack).is_not_null())
    values = values.select(*by, stack, *vals).filter(pl.col(stack).is_not_null())
    sums = values.head(0).select(pl.col(c).sum() for c in vals).schema
    schema = {
        **{c: values.schema[c] for c in by},
        key: frames.schema[key],
        **{f"{kind}_{c}": sums[c] for kind in ("flat", "cum") for c in vals},
    }
    if frames.height == 0 or values.height == 0:
        return pl.DataFrame(schema=schema)
    stacks = pl.concat([frames.get_column(stack), values.get_column(stack)]).unique().sort()
    k_frame, keys = _codes(frames, [key])
    g_value, groups = _codes(values, by) if by else (np.zeros(values.height, np.int64), None)
    incidence = _Incidence(
        stacks.search_sorted(frames.get_column(stack)).to_numpy(),
        k_frame,
        frames.get_column("leaf").fill_null(False).to_numpy(),
        len(stacks),
        len(keys),
    )
    columns = [values.get_column(c) for c in vals]
    group_of = (g_value, len(groups) if groups is not None else 1)
    s_value = stacks.search_sorted(values.get_column(stack)).to_numpy()
    if _lookup is not None and not any(c.dtype.is_float() for c in columns):
        rows, at, sums_of = _kernel_sums(incidence, group_of, s_value, columns)
    else:
        rows, at, sums_of = _sparse_sums(incidence, group_of, s_value, columns)
    # NumPy arrays reach Polars as Arrow buffers (pl.Series of one imports numpy.ma)
    parts = [] if groups is None else [groups.select(by)[_arrow.series("", rows)]]
    parts.append(keys.select(key)[_arrow.series("", at)])
    parts.append(pl.DataFrame([_arrow.series(name, sums_of[i]) for i, name in enumerate(out_cols)]))
    out = pl.concat(parts, how="horizontal").cast(schema)  # type: ignore[arg-type]
    return out.filter(pl.any_horizontal(pl.col(c) != 0 for c in out_cols))


@dataclass(frozen=True)
class _Incidence:
    """The frames' (stack, key) rows as codes (stack and key positions), and their leaf flags."""

    stack: np.ndarray
    key: np.ndarray
    leaf: np.ndarray
    n_stacks: int
    n_keys: int


def _kernel_sums(
    inc: _Incidence, group_of: tuple[np.ndarray, int], s_value: np.ndarray, columns: list[pl.Series]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(group codes, key codes, flat sums per column then cum sums per column) of the cells,
    ordered by group then key, by the compiled kernel (integer values, wrapping at 2^64)."""
    assert _lookup is not None
    by_stack = np.argsort(inc.stack, kind="stable")
    stack_off = np.zeros(inc.n_stacks + 1, dtype=np.int64)
    np.cumsum(np.bincount(inc.stack, minlength=inc.n_stacks), out=stack_off[1:])
    g_value, n_groups = group_of
    by_group = np.argsort(g_value, kind="stable")
    group_off = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(g_value, minlength=n_groups), out=group_off[1:])
    m = len(columns)
    matrix = np.empty((len(s_value), m), dtype=np.int64)
    for j, column in enumerate(columns):
        matrix[:, j] = column.fill_null(0).to_numpy()[by_group]
    cells, sums = _lookup.group_flat_cum(
        stack_off,
        np.ascontiguousarray(inc.key[by_stack], dtype=np.int64),
        np.ascontiguousarray(inc.leaf[by_stack], dtype=np.uint8),
        group_off,
        np.ascontiguousarray(s_value[by_group], dtype=np.int64),
        matrix,
        m,
        inc.n_keys,
    )
    pairs = np.frombuffer(cells, dtype=np.int64).reshape(-1, 2)
    sums_of = np.frombuffer(sums, dtype=np.int64).reshape(-1, 2 * m)
    return pairs[:, 0], pairs[:, 1], [sums_of[:, j] for j in range(2 * m)]


def _sparse_sums(
    inc: _Incidence, group_of: tuple[np.ndarray, int], s_value: np.ndarray, columns: list[pl.Series]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """:func:`_kernel_sums` as two sparse products (any value type; without the kernel)."""
    from scipy import sparse

    g_value, n_groups = group_of
    n_stacks, n_keys = inc.n_stacks, inc.n_keys
    ones = np.ones(len(inc.stack), dtype=np.int64)
    incidence = sparse.csr_matrix((ones, (inc.stack, inc.key)), shape=(n_stacks, n_keys))
    incidence.data[:] = 1  # duplicates were summed: each (stack, key) once
    leaf = inc.leaf
    leaves = sparse.csr_matrix(
        (ones[leaf], (inc.stack[leaf], inc.key[leaf])), shape=(n_stacks, n_keys)
    )
    cells = []  # (sorted distinct group x key cell codes, their sums) per output column
    for right in (leaves, incidence):
        for column in columns:
            dtype = np.float64 if column.dtype.is_float() else np.int64
            v = sparse.csr_matrix(
                (column.fill_null(0).to_numpy().astype(dtype, copy=False), (g_value, s_value)),
                shape=(n_groups, n_stacks),
            )
            product = v @ right
            product.sort_indices()
            m = product.tocoo()
            cells.append((m.row.astype(np.int64) * n_keys + m.col, m.data))
    # every cell any product holds: a stable sort of sorted runs is a merge
    codes = np.concatenate([at for at, _ in cells])
    codes.sort(kind="stable")
    if len(codes):
        codes = codes[np.concatenate(([True], codes[1:] != codes[:-1]))]
    sums_of = []
    for at, data in cells:
        if len(at) == len(codes):  # this product holds every cell
            sums_of.append(data)
            continue
        summed = np.zeros(len(codes), dtype=data.dtype)
        summed[np.searchsorted(codes, at)] = data
        sums_of.append(summed)
    return codes // n_keys, codes % n_keys, sums_of


def _codes(df: pl.DataFrame, cols: list[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """Each row's position among the distinct values of ``cols`` (null a value like the
    others), and those distinct values."""
    if len(cols) == 1 and df.get_column(cols[0]).null_count() == 0:
        column = df.get_column(cols[0])
        if column.dtype.is_integer() and column.len():
            low, high = int(column.min()), int(column.max())  # type: ignore[arg-type]
            if high - low < max(4 * column.len(), 1 << 20):  # dense enough: the value is the code
                distinct = pl.int_range(low, high + 1, eager=True, dtype=pl.Int64)
                codes = column.to_numpy().astype(np.int64) - low
                return codes, distinct.cast(column.dtype).alias(cols[0]).to_frame()
        distinct = column.unique().sort()
        return distinct.search_sorted(column).to_numpy(), distinct.to_frame()
    grouped = (
        df.select(cols)
        .with_row_index("_row")
        .group_by(cols, maintain_order=True)
        .agg(pl.col("_row"))
    )
    codes = np.empty(df.height, dtype=np.int64)
    rows = grouped.get_column("_row")
    codes[rows.explode().to_numpy()] = np.repeat(
        np.arange(grouped.height, dtype=np.int64), rows.list.len().to_numpy()
    )
    return codes, grouped.drop("_row")


def stack_values(
    samples: pl.DataFrame, by: Sequence[str] = (), value_cols: Sequence[str] = ("value",)
) -> pl.DataFrame:
    """Per stack (and ``by`` group): the sample values summed (the per-stack aggregation)."""
    return samples.group_by("stack_id", *by).agg(pl.col(c).sum() for c in value_cols)


def stack_frames(profile: Profile, stack_ids: pl.Series) -> pl.DataFrame:
    """stack_id, pos (0 = leaf), frame_id, leaf: one row per frame of the given stacks."""
    wanted = pl.DataFrame({"stack_id": stack_ids.unique()})
    return (
        profile.stacks.join(wanted, on="stack_id", how="semi")
        .select("stack_id", "frame_ids", pl.int_ranges(0, pl.col("depth")).alias("pos"))
        .explode("frame_ids", "pos")
        .drop_nulls("frame_ids")
        .rename({"frame_ids": "frame_id"})
        .with_columns((pl.col("pos") == 0).alias("leaf"))
    )


def function_names(profile: Profile) -> pl.DataFrame:
    """frame_id, key: the function name of each frame (``0x...`` when unsymbolized)."""
    return profile.frames.select("frame_id", frame_function_names(profile.frames).alias("key"))


def per_function(
    profile: Profile, profile_ids: pl.Series | Sequence[int] | None = None, by: Sequence[str] = ()
) -> pl.DataFrame:
    """(``by``..., key, flat, cum) per function name over the samples of ``profile_ids``."""
    samples = profile.samples
    if profile_ids is not None:
        ids = pl.Series("profile_id", list(profile_ids), dtype=pl.Int64)
        samples = samples.filter(pl.col("profile_id").is_in(ids.implode()))
    values = stack_values(samples, by)
    frames = stack_frames(profile, values.get_column("stack_id")).join(
        function_names(profile), on="frame_id", how="left"
    )
    out = flat_cum(frames, values, by=by)
    return out.rename({"flat_value": "flat", "cum_value": "cum"})


def per_label(profile: Profile, key: str, profile_ids: pl.Series | None = None) -> pl.DataFrame:
    """(value, total) per value of label ``key`` (numeric values as decimal text); samples
    without the label are summed under null."""
    samples = profile.samples
    if profile_ids is not None:
        samples = samples.filter(pl.col("profile_id").is_in(profile_ids.implode()))
    text = pl.coalesce(pl.col("str"), pl.col("num").cast(pl.Utf8))
    values = (
        profile.labels.filter(pl.col("key") == key)
        .group_by("label_set_id")
        .agg(text.first().alias(key))
    )
    return (
        samples.join(values, on="label_set_id", how="left")
        .group_by(key)
        .agg(pl.col("value").sum().alias("total"))
        .sort("total", descending=True)
    )


def per_profile(profile: Profile, profile_ids: pl.Series | None = None) -> pl.DataFrame:
    """(profile_id, total) summed over samples."""
    samples = profile.samples
    if profile_ids is not None:
        samples = samples.filter(pl.col("profile_id").is_in(profile_ids.implode()))
    return samples.group_by("profile_id").agg(pl.col("value").sum().alias("total"))


# ---- the same sums over root-first key paths in CSR form (flame trees) ------------------------
def csr_flat_cum(
    offsets: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    n_keys: int,
    only: np.ndarray | None = None,
    *,
    flat_only: bool = False,
    leaf_first: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`flat_cum` for paths stored as CSR (path i is ``keys[offsets[i]:offsets[i+1]]``,
    its last key takes the flat value; ``values`` is (paths, m)): (n_keys, m) flat and cum.

    Numpy throughout: flame tables ask for it on every zoom, where a table's fixed costs
    would dominate. With ``only`` (key ids) cum is computed for those keys alone (0 for the
    others); ``flat_only`` computes no cum; ``leaf_first`` gives the flat value to each
    path's first key instead (stacks stored leaf first)."""
    m = values.shape[1]
    lengths = np.diff(offsets)
    live = np.flatnonzero(np.any(values != 0, axis=1) & (lengths > 0))
    flat = np.zeros((n_keys, m), dtype=np.int64)
    if len(live):
        last = keys[offsets[live] if leaf_first else offsets[live + 1] - 1].astype(np.int64)
        flat = _sum_rows_by_key(last, values[live], n_keys)
    if flat_only:
        return flat, np.zeros((n_keys, m), dtype=np.int64)
    if only is not None:
        wanted = np.zeros(n_keys, dtype=bool)
        wanted[only] = True
        pos = np.flatnonzero(wanted[keys])
        row = np.searchsorted(offsets, pos, side="right") - 1
        path_keys = keys[pos]
    else:
        row = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        path_keys = keys
    alive = np.any(values != 0, axis=1)
    if not alive.all():
        alive = alive[row]
        row, path_keys = row[alive], path_keys[alive]
    # Distinct (path, key) pairs: each pair packed into one unsigned integer (the path in the
    # high bits; 32 bits when both fit, which sorts twice as fast), sorted, runs kept once.
    key_bits = max(1, (n_keys - 1).bit_length())
    wide = (len(lengths) - 1).bit_length() + key_bits > 32
    code_type = np.dtype(np.uint64 if wide else np.uint32)
    shift = np.array(key_bits, dtype=code_type)
    combined = np.left_shift(row.astype(code_type), shift)
    combined |= path_keys.astype(code_type, copy=False)
    combined.sort()
    distinct = np.ones(len(combined), dtype=bool)
    distinct[1:] = combined[1:] != combined[:-1]
    combined = combined[distinct]
    key_of = (combined & np.array((1 << key_bits) - 1, dtype=code_type)).astype(np.intp)
    path_of = np.right_shift(combined, shift).astype(np.intp)
    cum = _sum_rows_by_key(key_of, values[path_of], n_keys)
    return flat, cum


def _sum_rows_by_key(keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Exact int64 sums of ``values`` rows per key (NumPy's unbuffered ``add.at``: no sort,
    no hash table)."""
    out = np.zeros((n_keys, values.shape[1]), dtype=np.int64)
    for j in range(values.shape[1]):
        np.add.at(out[:, j], keys, values[:, j].astype(np.int64, copy=False))
    return out
