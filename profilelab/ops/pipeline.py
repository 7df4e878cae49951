"""The report pipeline shared by top, peek, tags and traces, in pprof's order.

0. the selection's time range, label matchers and call-tree transforms
   (:func:`profilelab.core.restrict`);
1. choose the sample type and gather samples (:mod:`.samples`: merge inputs, base, diff);
2. the profile's ``drop_frames``/``keep_frames`` (pprof applies them when loading);
3. the total used for percentages (sum of absolute values, before any focus);
4. focus/ignore/hide/show, show_from, tagfocus/tagignore, prune_from (pprof's applyFocus);
5. granularity and ``-noinlines`` (pprof's Aggregate), then nodes.

Sample-level steps (tag filters) and stack-level steps (name filters) commute, so stacks
are filtered once per distinct stack and samples once per sample: the cost scales with
distinct stacks, not with samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from profilelab.core import sampletypes, transforms
from profilelab.core.restriction import restrict
from profilelab.model import _arrow
from profilelab.model.profile import Profile
from profilelab.ops import frames as frames_mod
from profilelab.ops import granularity as gran
from profilelab.ops import labels as labels_mod
from profilelab.ops import samples as samples_mod
from profilelab.ops import stackfilter
from profilelab.ops.options import ReportOptions


@dataclass
class Prepared:
    """Everything a report needs, after all filters (one sample type)."""

    profile: Profile
    options: ReportOptions
    sample_type: sampletypes.SampleType
    samples: pl.DataFrame  # surviving samples (see samples.collect)
    stacks: pl.DataFrame  # filtered stack view (frames.VIEW_COLUMNS) and its node_id
    nodes: pl.DataFrame  # node_id, n_* key columns, name, info
    labels: pl.DataFrame  # labels table rows of the surviving samples' label sets
    num_units: dict[str, str]
    total: int
    main: frames_mod.MainMapping | None = None


def prepare(
    profile: Profile, options: ReportOptions | None = None, *, all_types: bool = False
) -> Prepared:
    """Run steps 1-5 for ``profile`` with ``options`` (see the module docstring)."""
    opts = (options or ReportOptions()).validated()
    profile = restrict(profile, opts)
    stype = samples_mod.resolve_sample_index(profile, opts.sample_index)
    base = opts.base
    samples = samples_mod.collect(
        profile,
        stype.index,
        mean=opts.mean,
        all_types=all_types,
        base=base,
        diff_base=opts.diff_base,
        normalize=opts.normalize,
    )
    work = profile if base is None else Profile.concat([profile, base])
    set_labels = labels_mod.set_labels(work, samples)
    units = labels_mod.num_label_units(set_labels)
    used = frames_mod.used_stacks(work, samples)
    e = frames_mod.explode(work, used)
    f = frames_mod.frame_attributes(
        work, frames_mod.used_frames(work, e), pprof_names=opts.names == "pprof"
    )
    if opts.drop_frames:
        drop, keep = _drop_keep(profile)
        e = stackfilter.remove_uninteresting(e, f, drop, keep)
    total = samples_mod.total(samples)
    e = stackfilter.filter_by_name(e, f, opts.focus, opts.ignore, opts.hide, opts.show)
    e = stackfilter.show_from(e, f, opts.show_from)
    samples = _tag_filter(samples, set_labels, units, opts)
    e = stackfilter.prune_from(e, f, opts.prune_from)
    if opts.noinlines:
        e = stackfilter.no_inlines(e)
    if frames_mod.stack_count(e) < len(used):  # stacks without rows lose their samples
        samples = samples.join(e.select("stack_id").unique(), on="stack_id", how="semi")
    if opts.relative_percentages:  # pprof then filters before it computes the total
        total = samples_mod.total(samples)
    keyed = gran.node_keys(f, opts.granularity, opts.trim_path or "", opts.source_path or "")
    # Rows stay in the exploded order (each stack's frames together, leaf first).
    e = e.with_columns(_arrow.series("node_id", gran.node_of_frame(work, keyed)[e["frame"]]))
    main = frames_mod.main_mapping(profile)
    return Prepared(
        profile=profile,
        options=opts,
        sample_type=stype,
        samples=samples,
        stacks=e,
        nodes=gran.node_table(keyed),
        labels=set_labels,
        num_units=units,
        total=total,
        main=main,
    )


def pruned(profile: Profile) -> Profile:
    """``profile`` with its first input's ``drop_frames``/``keep_frames`` applied as a
    rewrite of its stacks (step 2, pprof's RemoveUninteresting, which ``go tool pprof``
    applies to every profile it loads): what views and analyses show, as the reports do.
    The profile itself when it names no drop_frames or they cut nothing."""
    drop, keep = _drop_keep(profile)
    if not drop:
        return profile
    e = frames_mod.explode(profile, frames_mod.used_stacks(profile, profile.samples))
    f = frames_mod.frame_attributes(profile, frames_mod.used_frames(profile, e))
    kept = stackfilter.remove_uninteresting(e, f, drop, keep)
    if kept.height == e.height:
        return profile
    # transforms.rebuild orders a stack's rows by ``rf``, root first: the view's is leaf first
    return transforms.rebuild(
        profile, kept.select("stack_id", (-pl.col("pos")).alias("rf"), "frame_id")
    )


def _drop_keep(profile: Profile) -> tuple[str | None, str | None]:
    """The first input's drop_frames / keep_frames (pprof keeps the first profile's)."""
    srcs = samples_mod.sources(profile).filter(pl.col("src") == 0)
    if srcs.height == 0:
        return None, None
    return srcs["drop_frames"][0], srcs["keep_frames"][0]


def _tag_filter(
    samples: pl.DataFrame, set_labels: pl.DataFrame, units: dict[str, str], opts: ReportOptions
) -> pl.DataFrame:
    if not (opts.tagfocus or opts.tagignore):
        return samples
    keep = pl.repeat(True, samples.height, dtype=pl.Boolean, eager=True)
    if opts.tagfocus:
        fn = labels_mod.compile_tag_filter("tagfocus", opts.tagfocus, units)
        keep = keep & fn(samples, set_labels)
    if opts.tagignore:
        fn = labels_mod.compile_tag_filter("tagignore", opts.tagignore, units)
        keep = keep & ~fn(samples, set_labels)
    return samples.filter(keep)
