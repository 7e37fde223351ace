"""Colour hints (user-guided colorization): parsing user points and mapping them to networks.

:mod:`autocolor.hints.points` parses what the user gives (``X,Y,COLOR``, JSON files);
:mod:`autocolor.hints.raster` turns points into the ``(ab, mask)`` inputs of hint-aware networks
(classes with ``accepts_hints = True``, e.g. ``cic.siggraph17``) and simulates hints from ground
truth for evaluation; :mod:`autocolor.hints.propagate` carries each hint along its object
(settings: :class:`autocolor.hints.spread.HintSpread`). Layer: imports only
:mod:`autocolor.color`; the pipeline imports this. The raster names are imported on first use
(they need torch), as is :mod:`autocolor.hints.propagate` (import it directly).
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
from autocolor.hints.spread import HintSpread
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.hints.raster import (
        GROUND_TRUTH_PATCH,
        HintMaps,
        rasterize_hints,
        sample_ground_truth_hints,
        snap_ab,
        stack_hint_maps,
    )

_RASTER = {"GROUND_TRUTH_PATCH", "HintMaps", "rasterize_hints", "sample_ground_truth_hints", "snap_ab", "stack_hint_maps"}


def __getattr__(name: str) -> Any:
    # The raster half needs torch and numpy; import it on first use so that parsing hints
    # (the CLI, before any model is needed) stays light.
    if name in _RASTER:
        from autocolor.hints import raster

        return getattr(raster, name)
    raise AttributeError(f"module 'autocolor.hints' has no attribute {name!r}")


__all__ = [
    "DEFAULT_RADIUS",
    "GROUND_TRUTH_PATCH",
    "MAX_RADIUS",
    "Coordinate",
    "Hint",
    "HintMaps",
    "HintSpread",
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
