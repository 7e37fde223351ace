"""Colour hints as the user gives them: points in photo coordinates with a chroma.

A hint says "around this point the colour is this": ``x, y`` in pixels of the input photo
(``0 <= x <= width - 1``, ``0 <= y <= height - 1``; fractions allowed) or as percentages of the
photo's size, a colour that fixes only the chroma (its a*, b*; the photo's own L* is kept), and
a patch radius in pixels of the network input (SIGGRAPH17's interactive demo paints a
``(2r + 1)``-pixel square; its brush spans r = 0..4 at 256 px, default 2).

Text forms (command line, JSON files):

- a point: ``X,Y,COLOR`` with ``X``/``Y`` pixels (``120``, ``40.5``) or percentages (``25%``);
- a colour: ``#RRGGBB`` (sRGB; its a*, b* are taken) or ``lab:A,B`` (a*, b* in Lab units);
- a JSON file: a list of points (each ``"X,Y,COLOR"`` or ``{"x": .., "y": .., "color": ..,
  "radius": ..}``), or, for folders, an object mapping each photo's path relative to the folder
  to such a list.

Nothing here knows about networks; :mod:`autocolor.hints.raster` maps hints onto a network's
input. Importing this module imports neither torch nor numpy (``autocolor --help`` stays fast).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocolor.errors import UsageError

#: Patch radius (network-input pixels) when none is given: the official demo's default brush.
DEFAULT_RADIUS = 2
#: Largest radius accepted: a 33x33 patch at 256 px is already an eighth of the image side.
MAX_RADIUS = 16
#: Largest |a*|, |b*| accepted in ``lab:A,B`` (the networks' ab range is +-110).
MAX_AB = 128.0

_HEX = re.compile(r"#([0-9a-fA-F]{6})")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_LAB = re.compile(rf"lab:\s*({_NUMBER})\s*,\s*({_NUMBER})", re.IGNORECASE)
_COORD = re.compile(rf"\s*({_NUMBER})\s*(%?)\s*")


@dataclass(frozen=True)
class Coordinate:
    """One coordinate: ``value`` pixels, or ``value`` percent of the side when ``percent``."""

    value: float
    percent: bool = False

    def pixels(self, side: int) -> float:
        """Position in pixels on a side of ``side`` pixels (100% is the last pixel)."""
        return self.value / 100.0 * (side - 1) if self.percent else self.value

    def __str__(self) -> str:
        text = f"{self.value:g}"
        return text + "%" if self.percent else text


@dataclass(frozen=True)
class Hint:
    """A colour hint.

    Attributes:
        x, y: where, in pixels of the photo (column, row from the top-left pixel) or as
            percentages (see :class:`Coordinate`).
        ab: ``(a*, b*)`` in Lab units: the chroma the hint asks for.
        radius: half-side of the square hinted patch in network-input pixels (0: one pixel).
        color: the colour as the user wrote it (for reports), e.g. ``"#1f3a93"``.
    """

    x: Coordinate
    y: Coordinate
    ab: tuple[float, float]
    radius: int = DEFAULT_RADIUS
    color: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.radius <= MAX_RADIUS:
            raise UsageError(f"hint radius must be 0..{MAX_RADIUS}, got {self.radius}")

    def position(self, height: int, width: int) -> tuple[float, float]:
        """``(x, y)`` in pixels of a ``height`` x ``width`` photo.

        Raises:
            UsageError: the point lies outside the photo.
        """
        x, y = self.x.pixels(width), self.y.pixels(height)
        if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
            raise UsageError(f"hint {self} lies outside the {width}x{height} image")
        return x, y

    def to_json(self) -> dict[str, Any]:
        """JSON-ready record (what ``--json`` reports)."""
        return {
            "x": str(self.x) if self.x.percent else self.x.value,
            "y": str(self.y) if self.y.percent else self.y.value,
            "color": self.color or f"lab:{self.ab[0]:g},{self.ab[1]:g}",
            "ab": [round(self.ab[0], 3), round(self.ab[1], 3)],
            "radius": self.radius,
        }

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.color or f'lab:{self.ab[0]:g},{self.ab[1]:g}'}"


def parse_color(text: str) -> tuple[float, float]:
    """``#RRGGBB`` or ``lab:A,B`` -> ``(a*, b*)`` in Lab units.

    An sRGB colour is converted to Lab and only its a*, b* are kept: the hint fixes chroma,
    the photo keeps its own lightness (which is why ``#000080`` and ``#8080ff`` are different
    blues: same hue, different chroma).

    Raises:
        UsageError: not one of the two forms, or a* / b* beyond +-128.
    """
    text = text.strip()
    if match := _HEX.fullmatch(text):
        import torch  # here, not at the top: the CLI parses hints before it needs torch

        from autocolor.color.lab import rgb_to_lab

        code = int(match.group(1), 16)
        rgb = torch.tensor([(code >> 16) & 255, (code >> 8) & 255, code & 255], dtype=torch.float64) / 255.0
        lab = rgb_to_lab(rgb.view(3, 1, 1)).flatten()
        return float(lab[1]), float(lab[2])
    if match := _LAB.fullmatch(text):
        a, b = float(match.group(1)), float(match.group(2))
        if max(abs(a), abs(b)) > MAX_AB:
            raise UsageError(f"colour {text!r}: a* and b* must lie within +-{MAX_AB:g}")
        return a, b
    raise UsageError(f"unparsable colour {text!r}: use #RRGGBB or lab:A,B")


def _coordinate(text: str, what: str, hint: str) -> Coordinate:
    match = _COORD.fullmatch(text)
    if match is None:
        raise UsageError(f"hint {hint!r}: {what} {text.strip()!r} is not a number of pixels or a percentage")
    value, percent = float(match.group(1)), bool(match.group(2))
    if not math.isfinite(value) or value < 0 or (percent and value > 100):
        raise UsageError(f"hint {hint!r}: {what} {text.strip()!r} lies outside the image")
    return Coordinate(value, percent)


def parse_hint(text: str, radius: int = DEFAULT_RADIUS) -> Hint:
    """``"X,Y,COLOR"`` -> :class:`Hint` (see the module docstring for the forms)."""
    parts = text.split(",", 2)
    if len(parts) != 3:
        raise UsageError(f"hint {text!r} is not X,Y,COLOR (e.g. 120,80,#1f3a93 or 50%,10%,lab:20,-40)")
    x, y = _coordinate(parts[0], "x", text), _coordinate(parts[1], "y", text)
    try:
        ab = parse_color(parts[2])
    except UsageError as err:
        raise UsageError(f"hint {text!r}: {err}") from None
    return Hint(x, y, ab, radius, parts[2].strip())


def _hint_from_json(item: Any, radius: int, where: str) -> Hint:
    if isinstance(item, str):
        try:
            return parse_hint(item, radius)
        except UsageError as err:
            raise UsageError(f"{where}: {err}") from None
    if not isinstance(item, Mapping) or not {"x", "y", "color"} <= set(item):
        raise UsageError(f"{where}: a hint must be \"X,Y,COLOR\" or an object with x, y, color (and radius)")
    unknown = set(item) - {"x", "y", "color", "radius"}
    if unknown:
        raise UsageError(f"{where}: unknown hint field(s) {', '.join(sorted(unknown))}")
    item_radius = item.get("radius", radius)
    if not isinstance(item_radius, int) or isinstance(item_radius, bool):
        raise UsageError(f"{where}: radius must be an integer, got {item_radius!r}")
    text = f"{item['x']},{item['y']},{item['color']}"
    try:
        return parse_hint(text, item_radius)
    except UsageError as err:
        raise UsageError(f"{where}: {err}") from None


def hints_from_json(data: Any, radius: int = DEFAULT_RADIUS, where: str = "hints") -> list[Hint]:
    """A decoded JSON list of points -> hints (``where`` names the source in errors)."""
    if not isinstance(data, list):
        raise UsageError(f"{where}: expected a list of hints")
    return [_hint_from_json(item, radius, f"{where}[{i}]") for i, item in enumerate(data)]


@dataclass(frozen=True)
class HintsFile:
    """A loaded ``--hints`` file: one list for every input, or lists per relative path."""

    path: str
    shared: list[Hint] | None = None
    per_file: dict[str, list[Hint]] | None = None

    def for_input(self, relative: str) -> list[Hint]:
        """Hints for the input at ``relative`` (its path relative to the folder given)."""
        if self.shared is not None:
            return self.shared
        assert self.per_file is not None
        return self.per_file.get(Path(relative).as_posix(), [])


def load_hints_file(path: str | Path, radius: int = DEFAULT_RADIUS) -> HintsFile:
    """Read a JSON hints file (a list of points, or an object: relative path -> points).

    Raises:
        UsageError: unreadable, not JSON, or a malformed hint (the message names the file).
    """
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"{where}: cannot read hints file ({err.strerror or err})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"{where}: not a JSON hints file ({err})") from None
    if isinstance(data, list):
        return HintsFile(where, shared=hints_from_json(data, radius, where))
    if isinstance(data, dict):
        per_file = {
            Path(name).as_posix(): hints_from_json(points, radius, f"{where}: {name}")
            for name, points in data.items()
        }
        return HintsFile(where, per_file=per_file)
    raise UsageError(f"{where}: expected a list of hints or an object mapping paths to hints")


def hints_to_json(hints: Sequence[Hint]) -> list[dict[str, Any]]:
    """Hints as JSON-ready records, in order."""
    return [hint.to_json() for hint in hints]
