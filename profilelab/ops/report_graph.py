"""The call graph of ``-dot``, ``-tree`` and ``-callgrind``, chosen as ``go tool pprof`` does.

pprof's report.newTrimmedGraph, step by step:

1. the whole graph (nodes with flat/cum, caller->callee edges; with ``call_tree`` one node
   per distinct call path instead of per function);
2. nodes with |cum| below ``nodefraction`` of the sum of flats are dropped: the graph is
   rebuilt from the samples with the kept nodes only, so a call through dropped nodes
   becomes a *residual* edge (a tree is re-parented instead);
3. nodes are sorted (flat, ``cum``, or for drawings pprof's *entropy* order, which favours
   nodes whose in/out edges spread their weight), then the first ``nodecount`` are kept
   (for drawings each label nodelet counts as a node), rebuilding the graph again;
4. label tags and edges lighter than the node/edge cutoffs are dropped, and for drawings
   residual edges whose ends are also connected another way are removed.

Values are summed per distinct stack (and per label set for the label nodelets), never per
sample; the trimming then works on the few nodes and edges left.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import polars as pl

from profilelab.model.graph_tables import GraphTables
from profilelab.ops import graph as graph_mod
from profilelab.ops.labels import SPAN_KEYS, visible_keys
from profilelab.ops.options import ReportOptions
from profilelab.ops.pipeline import Prepared

MAX_NODELETS = 4  # pprof's maxNodelets


@dataclass
class Edge:
    src: int
    dest: int
    weight: int
    weight_div: int
    residual: bool
    inline: bool

    def value(self) -> int:
        return weight_value(self.weight, self.weight_div)


@dataclass
class Tag:
    name: str
    flat: int = 0
    flat_div: int = 0
    cum: int = 0
    cum_div: int = 0
    unit: str = ""
    value: int = 0


@dataclass
class Node:
    gid: int
    node_id: int
    name: str  # pprof's PrintableName
    info: str  # fmt.Sprint(NodeInfo): the last tie-break
    flat: int
    flat_div: int
    cum: int
    cum_div: int
    key: tuple[str, int, str, int, int, str]  # n_name, n_address, n_file, n_start, n_line, n_obj
    parent_key: int = -1  # call tree: the caller's path (pprof's per-parent NodeMap)
    ins: dict[int, Edge] = field(default_factory=dict)
    outs: dict[int, Edge] = field(default_factory=dict)
    label_tags: dict[str, Tag] = field(default_factory=dict)
    numeric_tags: dict[str, dict[str, Tag]] = field(default_factory=dict)

    def flat_value(self) -> int:
        return weight_value(self.flat, self.flat_div)

    def cum_value(self) -> int:
        return weight_value(self.cum, self.cum_div)


def weight_value(total: int, div: int) -> int:
    """pprof's FlatValue/CumValue/WeightValue: Go integer division under ``-mean``."""
    if div == 0:
        return total
    q = abs(total) // abs(div)
    return q if (total >= 0) == (div >= 0) else -q


@dataclass
class CallGraph:
    """The selected graph: nodes in report order, their edges, and the legend's counts."""

    nodes: list[Node]
    total: int
    orig_count: int
    dropped_nodes: int
    dropped_edges: int

    def edges(self) -> list[Edge]:
        return [e for n in self.nodes for e in n.outs.values()]


def graph_options(opts: ReportOptions) -> ReportOptions:
    """pprof's defaults for graph reports: 80 nodes, node/edge fractions 0.005/0.001."""
    return opts.with_(
        nodecount=80 if opts.nodecount is None else opts.nodecount,
        nodefraction=0.005 if opts.nodefraction is None else opts.nodefraction,
        edgefraction=0.001 if opts.edgefraction is None else opts.edgefraction,
    )


def object_files(prepared: Prepared) -> dict[int, str]:
    """Report node id -> binary of its frames (callgrind's ``ob=``)."""
    p = prepared.profile
    first = prepared.stacks.select("node_id", "frame_id").unique("node_id")
    files = p.frames.select("frame_id", "mapping_id").join(
        p.mappings.select("mapping_id", "binary"), on="mapping_id", how="left"
    )
    rows = first.join(files, on="frame_id", how="left").select("node_id", "binary")
    return {nid: b or "" for nid, b in rows.iter_rows()}


@dataclass(frozen=True)
class _Trim:
    nodecount: int
    nodefraction: float
    edgefraction: float


class _Source:
    """The exploded stacks of a report, keyed by graph node id (``gid``)."""

    def __init__(self, prepared: Prepared, call_tree: bool, tags: bool) -> None:
        e = graph_mod.grouped(prepared.stacks)
        e = e.with_columns(graph_mod.first_of_stack().alias("leaf"))
        if call_tree:
            e = _path_ids(e)
        else:
            e = e.with_columns(pl.col("node_id").alias("gid"), pl.lit(-1).alias("parent_gid"))
        self.e = e
        self.values = graph_mod.stack_values(prepared.samples)
        self.prepared = prepared
        self.tags = tags
        self.call_tree = call_tree
        self._node_values: pl.DataFrame | None = None

    def node_values(self) -> pl.DataFrame:
        """gid, flat, flat_div, cum, cum_div of every node (computed once)."""
        if self._node_values is None:
            e = self.e.select("stack_id", "pos", pl.col("gid").alias("node_id"))
            vals = graph_mod.node_values(e, self.values)
            self._node_values = vals.rename({"node_id": "gid"})
        return self._node_values

    def nodes(self, tag_cut: int = 0, min_cum: int = 0) -> tuple[dict[int, Node], int]:
        """The nodes whose |cum| is ``min_cum`` or more, with their values (and label tags
        of weight ``tag_cut`` or more), and how many nodes the whole graph has."""
        vals = self.node_values()
        count = vals.height
        if min_cum > 0:
            vals = vals.filter(pl.col("cum").abs() >= min_cum)
        if self.call_tree:
            ids = self.e.select("gid", "node_id", "parent_gid").unique("gid")
            vals = vals.join(ids, on="gid", how="left")
        else:
            vals = vals.with_columns(pl.col("gid").alias("node_id"), pl.lit(-1).alias("parent_gid"))
        info = self.prepared.nodes
        vals = vals.join(info, on="node_id", how="left")
        out: dict[int, Node] = {}
        for row in vals.iter_rows(named=True):
            key = (
                row["n_name"],
                row["n_address"],
                row["n_file"],
                row["n_start"],
                row["n_line"],
                row["n_obj"],
            )
            out[row["gid"]] = Node(
                row["gid"],
                row["node_id"],
                row["name"],
                row["info"],
                row["flat"],
                row["flat_div"],
                row["cum"],
                row["cum_div"],
                key,
                row["parent_gid"] if row["parent_gid"] is not None else -1,
            )
        if self.tags:
            tv = _tag_values(self.prepared, tag_cut)
            _attach_tags(out, self.e, tv, tag_cut, self.prepared.options.unit)
        return out, count

    def edge_frame(self, kept: set[int] | None) -> pl.DataFrame:
        """src, dest, weight, weight_div, inline, residual: the graph's edges, rebuilt from
        the stacks with the ``kept`` nodes only when given (pprof's KeptNodes)."""
        e = self.e.select("stack_id", "pos", "loc", pl.col("gid").alias("node_id"))
        keep = pl.Series(sorted(kept), dtype=pl.Int64) if kept is not None else None
        return graph_mod.edges(e, self.values, keep)

    def link(self, nodes: dict[int, Node], kept: set[int] | None) -> None:
        """(Re)build the edges between ``nodes`` (from the kept nodes only, when given)."""
        link_edges(nodes, self.edge_frame(kept))


def link_edges(nodes: dict[int, Node], edges: pl.DataFrame) -> None:
    """Make ``edges`` the in/out edges of ``nodes`` (edges to other nodes are left out)."""
    for n in nodes.values():
        n.ins.clear()
        n.outs.clear()
    for src, dest, w, dw, inline, residual in edges.select(
        "src", "dest", "weight", "weight_div", "inline", "residual"
    ).iter_rows():
        if src in nodes and dest in nodes:
            edge = Edge(src, dest, w, dw, residual, inline)
            nodes[src].outs[dest] = edge
            nodes[dest].ins[src] = edge


def _path_ids(e: pl.DataFrame) -> pl.DataFrame:
    """``gid``: one id per distinct call path from the root (pprof's newTree nodes)."""
    rank = pl.int_range(pl.len()).over("stack_id")  # rows are sorted leaf first
    e = e.with_columns((pl.len().over("stack_id") - 1 - rank).cast(pl.Int64).alias("depth"))
    e = e.with_row_index("_row")
    parts = []
    parent = pl.DataFrame(schema={"stack_id": pl.Int64, "parent_gid": pl.Int64})
    next_id = 0
    max_depth = int(e["depth"].to_numpy().max()) if e.height else -1
    for d in range(max_depth + 1):
        level = e.filter(pl.col("depth") == d).join(parent, on="stack_id", how="left")
        level = level.with_columns(pl.col("parent_gid").fill_null(-1))
        keys = level.select("parent_gid", "node_id").unique(maintain_order=True)
        keys = keys.with_row_index("gid", offset=next_id).with_columns(pl.col("gid").cast(pl.Int64))
        next_id += keys.height
        level = level.join(keys, on=["parent_gid", "node_id"], how="left")
        parts.append(level)
        parent = level.select("stack_id", pl.col("gid").alias("parent_gid"))
    cols = [*e.columns, "gid", "parent_gid"]
    if not parts:
        return e.with_columns(pl.lit(0).alias("gid"), pl.lit(-1).alias("parent_gid"))
    return pl.concat([p.select(cols) for p in parts]).sort("_row").drop("_row", "depth")


def flat_total(self_: _Source) -> int:
    """The sum of all flats: every stack with a frame gives its value to its leaf."""
    return int(self_.node_values()["flat"].sum())


def _tag_values(prepared: Prepared, cut: int) -> pl.DataFrame:
    """stack_id, labels (pprof's joinLabels), bytes (numeric values), w, dw per label group
    that has a label string or a "bytes" value (the others make no tag).

    Label sets whose whole weight is below ``cut`` cannot make a tag that survives pprof's
    tag trimming, so they are left out early (per-request labels such as span ids make
    most label sets that light).
    """
    opts = prepared.options
    s = prepared.samples
    span_cols = [c for c in SPAN_KEYS if c in s.columns]
    dw = pl.col("div").sum() if "div" in s.columns else pl.lit(0, dtype=pl.Int64)
    lab = prepared.labels
    keys = visible_keys([*lab["key"].unique().to_list(), *span_cols], opts.tagshow, opts.taghide)
    if cut > 0:  # a label string with a span id is no heavier than that span id's samples
        for c in span_cols:
            if c in keys:
                span_weight = (
                    s.filter(pl.col(c).is_not_null())
                    .group_by(c)
                    .agg(pl.col("value").abs().sum().alias("reach"))
                )
                heavy = span_weight.filter(pl.col("reach") >= cut).get_column(c)
                s = s.filter(pl.col(c).is_null() | pl.col(c).is_in(heavy.implode()))
    # Samples with no shown label string, span id or "bytes" value can make no tag.
    unit = prepared.num_units.get("bytes", "bytes")
    shown = "bytes" in keys  # -tagshow/-taghide apply to it too
    tagged = lab.filter(
        (pl.col("str").is_not_null() & pl.col("key").is_in(sorted(keys)))
        | ((pl.col("key") == "bytes") & pl.col("num").is_not_null() & shown)
    ).get_column("label_set_id")
    spans = [pl.col(c).is_not_null() for c in span_cols if c in keys]
    s = s.filter(pl.any_horizontal(pl.col("label_set_id").is_in(tagged.implode()), *spans))
    groups = s.group_by("stack_id", "label_set_id", *span_cols).agg(
        pl.col("value").sum().alias("w"), dw.alias("dw")
    )
    strs = lab.filter(pl.col("str").is_not_null() & pl.col("key").is_in(sorted(keys)))
    strs = strs.select("label_set_id", pl.format("{}:{}", "key", "str").alias("kv"))
    span_kv = [
        groups.filter(pl.col(c).is_not_null()).select(
            "stack_id",
            "label_set_id",
            *span_cols,
            pl.format("{}:{}", pl.lit(c), pl.col(c)).alias("kv"),
        )
        for c in span_cols
        if c in keys
    ]
    per_set = strs.group_by("label_set_id").agg(pl.col("kv"))
    g = groups.join(per_set, on="label_set_id", how="left")
    if span_kv:
        extra = (
            pl.concat(span_kv)
            .group_by("stack_id", "label_set_id", *span_cols)
            .agg(pl.col("kv").alias("span_kv"))
        )
        g = g.join(extra, on=["stack_id", "label_set_id", *span_cols], how="left", nulls_equal=True)
        g = g.with_columns(
            pl.concat_list(pl.col("kv").fill_null([]), pl.col("span_kv").fill_null([])).alias("kv")
        )
    g = g.with_columns(pl.col("kv").fill_null([]).list.sort().list.join("\\n").alias("labels"))
    # pprof keeps only the "bytes" numeric label in graphs (report.newGraph).
    nums = lab.filter((pl.col("key") == "bytes") & pl.col("num").is_not_null() & shown)
    nums = nums.group_by("label_set_id", maintain_order=True).agg(pl.col("num").alias("bytes"))
    g = g.join(nums, on="label_set_id", how="left")
    g = g.with_columns(pl.lit(unit).alias("unit"))
    g = g.filter((pl.col("w") != 0) | (pl.col("dw") != 0))
    if cut > 0:
        reach = pl.col("w").abs().sum().over("labels")
        g = g.filter((pl.col("labels") == "") | (reach >= cut))
    g = g.filter((pl.col("labels") != "") | pl.col("bytes").is_not_null())
    return g.select("stack_id", "labels", "bytes", "unit", "w", "dw")


def _attach_tags(
    nodes: dict[int, Node], e: pl.DataFrame, tv: pl.DataFrame, cut: int, output_unit: str
) -> None:
    """Label and numeric tags per node (pprof's addSample), lighter than ``cut`` left out.

    A numeric tag is named by its value in the report's output unit (``-unit``), as pprof's
    FormatTag does: ``49152B`` with ``-unit=bytes`` or a unit of another kind, ``48kB``
    only with ``minimum``/``auto``. Tags grouped for drawing are renamed (auto-scaled) later.

    Of the label tags only the four heaviest by flat and by cum can be drawn or counted
    (pprof's maxNodelets), so only those are kept; ties go to the smaller name as in
    pprof's SortTags.
    """
    from profilelab.core import measurement

    # The frames of stacks without tags and of nodes not in ``nodes`` are left out first.
    if tv.height == 0 or not nodes:
        return
    gids = pl.Series(list(nodes), dtype=pl.Int64).implode()
    e = e.filter(pl.col("gid").is_in(gids)).join(
        tv.select("stack_id").unique(), on="stack_id", how="semi", maintain_order="left"
    )
    cum = e.select("stack_id", "gid").unique().join(tv, on="stack_id")
    flat = e.filter(pl.col("leaf")).select("stack_id", "gid").join(tv, on="stack_id")
    keep = (pl.col("flat").abs() >= cut) | (pl.col("cum").abs() >= cut)
    label = _both(cum.filter(pl.col("labels") != ""), flat, ["gid", "labels"]).filter(keep)
    # Ordinal ranks follow row order among equal weights: order the rows as pprof's SortTags
    # breaks ties (|flat|, then name) so the same tags are kept on every run.
    label = label.sort(pl.col("flat").abs(), "labels", descending=[True, False])
    label = label.filter(
        (pl.col("flat").abs().rank("ordinal", descending=True).over("gid") <= MAX_NODELETS)
        | (pl.col("cum").abs().rank("ordinal", descending=True).over("gid") <= MAX_NODELETS)
    )
    for gid, labels, f, fd, c, cd in label.select(
        "gid", "labels", "flat", "flat_div", "cum", "cum_div"
    ).iter_rows():
        if gid in nodes:
            nodes[gid].label_tags[labels] = Tag(labels, f, fd, c, cd)
    keys = ["gid", "labels", "bytes", "unit"]
    num = _both(
        cum.filter(pl.col("bytes").is_not_null()).explode("bytes"),
        flat.filter(pl.col("bytes").is_not_null()).explode("bytes"),
        keys,
    ).filter(keep)
    for gid, labels, v, unit, f, fd, c, cd in num.select(
        *keys, "flat", "flat_div", "cum", "cum_div"
    ).iter_rows():
        n = nodes.get(gid)
        if n is None:
            continue
        name = measurement.scaled_label(v, unit, output_unit)
        tm = n.numeric_tags.setdefault(labels, {})
        tag = tm.setdefault(name, Tag(name, unit=unit, value=v))  # pprof keeps the first value
        tag.flat, tag.flat_div = tag.flat + f, tag.flat_div + fd
        tag.cum, tag.cum_div = tag.cum + c, tag.cum_div + cd


def _both(cum: pl.DataFrame, flat: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Cum and flat sums of w/dw per ``keys`` (flat from leaf rows only)."""
    c = cum.group_by(keys, maintain_order=True).agg(
        pl.col("w").sum().alias("cum"), pl.col("dw").sum().alias("cum_div")
    )
    f = flat.group_by(keys).agg(
        pl.col("w").sum().alias("flat"), pl.col("dw").sum().alias("flat_div")
    )
    out = c.join(f, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return out.with_columns(pl.col("flat", "flat_div").fill_null(0))


def call_graph(prepared: Prepared, *, kind: str = "dot") -> CallGraph:
    """pprof's newTrimmedGraph for report ``kind`` (dot, tree or callgrind).

    The prepared options say nodecount/nodefraction/edgefraction (None: 0), ``cum`` and
    ``call_tree`` (honoured by dot and callgrind only, as in pprof).
    """
    opts = prepared.options
    visual = kind == "dot"
    call_tree = opts.call_tree and kind in ("dot", "callgrind")
    o = _Trim(opts.nodecount or 0, opts.nodefraction or 0.0, opts.edgefraction or 0.0)
    src = _Source(prepared, call_tree, visual)
    total_flat = flat_total(src)
    node_cut = abs(int(float(total_flat) * o.nodefraction))
    edge_cut = abs(int(float(total_flat) * o.edgefraction))
    if not call_tree:
        return _graph(prepared, src, o, node_cut, edge_cut, visual)
    all_nodes, _ = src.nodes(node_cut)
    src.link(all_nodes, None)
    nodes = list(all_nodes.values())
    dropped_nodes = 0
    if node_cut > 0:
        kept = [n for n in nodes if abs(n.cum) >= node_cut]
        if len(kept) != len(nodes):
            dropped_nodes = len(nodes) - len(kept)
            nodes = _keep(src, all_nodes, kept, call_tree)
    orig_count = len(nodes)
    nodes = sort_nodes(nodes, opts.cum, visual)
    if o.nodecount > 0:
        _trim_tags(nodes, node_cut)
        _trim_edges(nodes, edge_cut)
        top = select_top(nodes, o.nodecount, visual)
        if len(top) != len(nodes):
            nodes = sort_nodes(_keep(src, all_nodes, top, call_tree), opts.cum, visual)
    _trim_tags(nodes, node_cut)
    dropped_edges = _trim_edges(nodes, edge_cut)
    if visual:
        remove_redundant_edges(nodes)
    return CallGraph(nodes, prepared.total, orig_count, dropped_nodes, dropped_edges)


def _graph(
    prepared: Prepared,
    src: _Source,
    o: _Trim,
    node_cut: int,
    edge_cut: int,
    visual: bool,
) -> CallGraph:
    """newTrimmedGraph for a graph (not a tree): edges stay a frame until the last step,
    so a big graph's edges are never objects, and only the nodes that pass the node cut
    become objects (with their tags)."""
    cum = prepared.options.cum
    cut_nodes, count = src.nodes(node_cut, node_cut)
    nodes = list(cut_nodes.values())
    kept: set[int] | None = None
    dropped_nodes = count - len(nodes)
    if dropped_nodes:
        kept = {n.gid for n in nodes}
    edges = src.edge_frame(kept)
    orig_count = len(nodes)
    nodes = _sorted(nodes, edges, cum, visual)
    if o.nodecount > 0:
        _trim_tags(nodes, node_cut)
        edges = edges.filter(pl.col("weight").abs() >= edge_cut)
        top = select_top(nodes, o.nodecount, visual)
        if len(top) != len(nodes):
            kept = {n.gid for n in top}
            edges = src.edge_frame(kept)
            nodes = _sorted(top, edges, cum, visual)
    _trim_tags(nodes, node_cut)
    shown = pl.Series([n.gid for n in nodes], dtype=pl.Int64).implode()
    edges = edges.filter(pl.col("src").is_in(shown) & pl.col("dest").is_in(shown))
    light = pl.col("weight").abs() < edge_cut
    dropped_edges = edges.filter(light).height
    link_edges({n.gid: n for n in nodes}, edges.filter(~light))
    if visual:
        remove_redundant_edges(nodes)
    return CallGraph(nodes, prepared.total, orig_count, dropped_nodes, dropped_edges)


def _sorted(nodes: list[Node], edges: pl.DataFrame, cum: bool, visual: bool) -> list[Node]:
    """pprof's SortNodes with the entropy scores computed from the edge frame."""
    if not visual:
        return sort_nodes(nodes, cum, False)
    scores = entropy_scores(nodes, edges)
    return sorted(nodes, key=lambda n: (-abs(scores[n.gid]), n.name, -abs(n.flat), n.info))


def entropy_scores(nodes: list[Node], edges: pl.DataFrame) -> dict[int, int]:
    """pprof's entropyScore of every node, its edge entropies summed in Polars."""
    ids = pl.Series([n.gid for n in nodes], dtype=pl.Int64)
    edges = edges.filter(pl.col("src").is_in(ids.implode()) & pl.col("dest").is_in(ids.implode()))
    own = pl.DataFrame(
        {"gid": ids, "own": [n.flat for n in nodes]}, schema={"gid": pl.Int64, "own": pl.Int64}
    )

    def side(key: str, with_own: bool) -> pl.DataFrame:
        w = edges.select(pl.col(key).alias("gid"), "weight").join(own, on="gid")
        own_part = pl.col("own").first() if with_own else pl.lit(0)
        total = own_part + pl.col("weight").filter(pl.col("weight") > 0).abs().sum()
        frac = pl.col("weight").abs() / total
        own_frac = pl.col("own").first().abs() / total
        own_term = (
            pl.when(own_part > 0).then(-own_frac * own_frac.log(2)).otherwise(0.0)
            if with_own
            else pl.lit(0.0)
        )
        score = (-frac * frac.log(2)).sum() + own_term
        return w.group_by("gid").agg(pl.when(total != 0).then(score).otherwise(0.0).alias("s"))

    ins = dict(side("dest", False).iter_rows())
    outs = dict(side("src", True).iter_rows())
    out = {}
    for n in nodes:
        score = ins.get(n.gid, 1.0) + outs.get(n.gid, 1.0)
        if math.isnan(score):
            out[n.gid] = -(2**63) + n.flat  # Go's int64(NaN) on amd64
        else:
            out[n.gid] = int(score * float(n.cum)) + n.flat
    return out


def _keep(src: _Source, all_nodes: dict[int, Node], kept: list[Node], tree: bool) -> list[Node]:
    if tree:
        return trim_tree(kept, list(all_nodes.values()))
    ids = {n.gid for n in kept}
    sub = {gid: all_nodes[gid] for gid in ids}
    src.link(sub, ids)
    return [n for n in all_nodes.values() if n.gid in ids]


def trim_tree(kept: list[Node], nodes: list[Node]) -> list[Node]:
    """pprof's Graph.TrimTree: a dropped node hands its children to its parent."""
    keep = {n.gid for n in kept}
    by_gid = {n.gid: n for n in nodes}
    out = []
    for cur in nodes:
        if cur.gid in keep:
            out.append(cur)
            continue
        if not cur.ins:  # a dropped root: its children become roots
            for e in cur.outs.values():
                by_gid[e.dest].ins.pop(cur.gid, None)
            continue
        (up,) = cur.ins.values()
        parent = by_gid[up.src]
        inline = parent.outs[cur.gid].inline
        del parent.outs[cur.gid]
        for e in list(cur.outs.values()):
            child = by_gid[e.dest]
            del child.ins[cur.gid]
            child.ins[parent.gid] = e
            parent.outs[child.gid] = e
            e.src = parent.gid
            e.residual = True
            e.inline = inline and e.inline
    remove_redundant_edges(out)
    return out


def _trim_tags(nodes: list[Node], cut: int) -> None:
    """pprof's TrimLowFrequencyTags."""
    for n in nodes:
        n.label_tags = {
            k: t for k, t in n.label_tags.items() if abs(t.flat) >= cut or abs(t.cum) >= cut
        }
        for key, tm in n.numeric_tags.items():
            n.numeric_tags[key] = {
                k: t for k, t in tm.items() if abs(t.flat) >= cut or abs(t.cum) >= cut
            }


def _trim_edges(nodes: list[Node], cut: int) -> int:
    """pprof's TrimLowFrequencyEdges: drop edges lighter than ``cut``; how many."""
    dropped = 0
    by_gid = {n.gid: n for n in nodes}
    for n in nodes:
        for src in [s for s, e in n.ins.items() if abs(e.weight) < cut]:
            del n.ins[src]
            if src in by_gid:
                by_gid[src].outs.pop(n.gid, None)
            dropped += 1
    return dropped


def sort_nodes(nodes: list[Node], cum: bool, visual: bool) -> list[Node]:
    """pprof's SortNodes: entropy order for drawings, else by |cum| or |flat|."""
    if visual:
        score = {n.gid: entropy_score(n) for n in nodes}
        return sorted(nodes, key=lambda n: (-abs(score[n.gid]), n.name, -abs(n.flat), n.info))
    if cum:
        return sorted(nodes, key=lambda n: (-abs(n.cum), n.name, -abs(n.flat), n.info))
    return sorted(nodes, key=lambda n: (-abs(n.flat), n.name, -abs(n.cum), n.info))


def entropy_score(n: Node) -> int:
    """pprof's entropyScore: how much a node's in/out edges spread their weight."""
    score = 1.0 if not n.ins else _edge_entropy(list(n.ins.values()), 0)
    score += 1.0 if not n.outs else _edge_entropy(list(n.outs.values()), n.flat)
    if math.isnan(score):
        return -(2**63) + n.flat  # Go's int64(NaN) on amd64
    return int(score * float(n.cum)) + n.flat


def _edge_entropy(edges: list[Edge], own: int) -> float:
    total = own + sum(abs(e.weight) for e in edges if e.weight > 0)
    if total == 0:
        return 0.0
    score = 0.0
    for e in edges:
        frac = abs(e.weight) / total
        score += math.nan if frac == 0 else -frac * math.log2(frac)
    if own > 0:
        frac = abs(own) / total
        score += -frac * math.log2(frac)
    return score


def select_top(nodes: list[Node], max_nodes: int, visual: bool) -> list[Node]:
    """pprof's selectTopNodes: for drawings, each label nodelet counts as a node."""
    if max_nodes > 0 and visual:
        count = 0
        for i, n in enumerate(nodes):
            count += min(_count_tags(n), MAX_NODELETS) + 1
            if count >= max_nodes:
                max_nodes = i + 1
                break
    return nodes[: min(max_nodes, len(nodes))]


def _count_tags(n: Node) -> int:
    count = sum(1 for t in n.label_tags.values() if t.flat != 0)
    return count + sum(1 for tm in n.numeric_tags.values() for t in tm.values() if t.flat != 0)


def sorted_edges(edges: list[Edge], names: dict[int, str]) -> list[Edge]:
    """pprof's EdgeMap.Sort: by |weight|, then source and destination names."""
    return sorted(
        edges, key=lambda e: (-abs(e.weight), names.get(e.src, ""), names.get(e.dest, ""))
    )


def remove_redundant_edges(nodes: list[Node]) -> None:
    """pprof's RemoveRedundantEdges: residual edges whose ends are otherwise connected."""
    names = {n.gid: n.name for n in nodes}
    by_gid = {n.gid: n for n in nodes}
    for n in reversed(nodes):
        ins = sorted_edges(list(n.ins.values()), names)
        for e in reversed(ins):
            if not e.residual:
                break
            if _redundant(e, by_gid):
                n.ins.pop(e.src, None)
                if e.src in by_gid:
                    by_gid[e.src].outs.pop(e.dest, None)


def _redundant(e: Edge, by_gid: dict[int, Node]) -> bool:
    seen = {e.dest}
    queue = deque([e.dest])
    while queue:
        cur = by_gid.get(queue.popleft())
        if cur is None:
            continue
        for ie in cur.ins.values():
            if ie is e or ie.src in seen:
                continue
            if ie.src == e.src:
                return True
            seen.add(ie.src)
            queue.append(ie.src)
    return False


def graph_tables(g: CallGraph) -> GraphTables:
    """The nodes and edges of ``g`` with values in the sample unit (``-mean`` applied)."""
    ids = {n.gid: i + 1 for i, n in enumerate(g.nodes)}
    pct = 100.0 / g.total if g.total else 0.0
    nodes = pl.DataFrame(
        [(ids[n.gid], n.name, n.flat_value(), n.cum_value()) for n in g.nodes],
        schema={"node": pl.Int64, "name": pl.Utf8, "flat": pl.Int64, "cum": pl.Int64},
        orient="row",
    ).with_columns((pl.col("flat") * pct).alias("flat_pct"), (pl.col("cum") * pct).alias("cum_pct"))
    names = {n.gid: n.name for n in g.nodes}
    edges = pl.DataFrame(
        [
            (ids[e.src], ids[e.dest], names[e.src], names[e.dest], e.value(), e.inline, e.residual)
            for e in sorted_edges(g.edges(), names)
            if e.src in ids and e.dest in ids
        ],
        schema={
            "src": pl.Int64,
            "dest": pl.Int64,
            "src_name": pl.Utf8,
            "dest_name": pl.Utf8,
            "weight": pl.Int64,
            "inline": pl.Boolean,
            "residual": pl.Boolean,
        },
        orient="row",
    )
    return GraphTables(nodes.select("node", "name", "flat", "flat_pct", "cum", "cum_pct"), edges)
