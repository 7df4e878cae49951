"""Units and measurements as pprof prints them: defined in :mod:`profilelab.core.measurement`."""

from profilelab.core.measurement import (
    common_unit,
    go_fixed2,
    go_round,
    label,
    linear,
    percentage,
    same_family,
    scale,
    scaled_label,
)

__all__ = [
    "common_unit",
    "go_fixed2",
    "go_round",
    "label",
    "linear",
    "percentage",
    "same_family",
    "scale",
    "scaled_label",
]
