"""Analyses over many profiles: trends, N-vs-M comparisons with statistics, growth, alerts.

Everything here takes a :class:`~profilelab.model.profile.Profile` holding many profiles
(loaded files, or a store query) and returns Polars frames.
"""

from profilelab.analysis._select import profile_table
from profilelab.analysis._totals import key_totals
from profilelab.analysis.compare import compare, decompose_calls, mix_shift
from profilelab.analysis.growth import growth, growth_profile, name_stacks
from profilelab.analysis.trends import label_breakdown, top_movers, trend

__all__ = [
    "compare",
    "decompose_calls",
    "growth",
    "growth_profile",
    "key_totals",
    "label_breakdown",
    "mix_shift",
    "name_stacks",
    "profile_table",
    "top_movers",
    "trend",
]
