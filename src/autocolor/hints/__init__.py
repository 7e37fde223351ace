"""Colour hints (user-guided colorization): parsing user points and mapping them to networks.

:mod:`autocolor.hints.points` parses what the user gives (``X,Y,COLOR``, JSON files);
:mod:`autocolor.hints.raster` turns points into the ``(ab, mask)`` inputs of hint-aware networks
(classes with ``accepts_hints = True``, e.g. ``cic.siggraph17``) and simulates hints from ground
truth for evaluation. Layer: imports only :mod:`autocolor.color`; the pipeline imports this.
"""

from autocolor.hints.points import (
    DEFAULT_RADIUS,
    MAX_RADIUS,
    Coordinate,
    Hint,
    HintsFile,
    hints_from_json,
    hints_to_json,
    load_hints_file,
    parse_color,
    parse_hint,
)
from autocolor.hints.raster import (
    GROUND_TRUTH_PATCH,
    HintMaps,
    rasterize_hints,
    sample_ground_truth_hints,
    snap_ab,
    stack_hint_maps,
)

__all__ = [
    "DEFAULT_RADIUS",
    "GROUND_TRUTH_PATCH",
    "MAX_RADIUS",
    "Coordinate",
    "Hint",
    "HintMaps",
    "HintsFile",
    "hints_from_json",
    "hints_to_json",
    "load_hints_file",
    "parse_color",
    "parse_hint",
    "rasterize_hints",
    "sample_ground_truth_hints",
    "snap_ab",
    "stack_hint_maps",
]
