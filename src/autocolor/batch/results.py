"""What happened to one input file: :class:`ItemResult` (one ``--json`` line) and its reason text.

Owned by the batch layer so that every executor (in-process threads, a shard, Ray workers)
reports files the same way; :mod:`autocolor.cli.common` re-exports both names. Nothing here
imports torch or the image stack.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from autocolor.errors import AutocolorError, InputImageError, OutputError

#: ``ItemResult.status`` values.
STATUSES = ("ok", "skipped", "failed")


def one_line(message: object) -> str:
    """A message squeezed onto one line (user errors are always one line)."""
    return " ".join(str(message).split())


@dataclass
class ItemResult:
    """What happened to one input; one ``--json`` line.

    Attributes:
        input: the input path as given (``"-"`` for stdin).
        output: the output path, ``"-"`` for stdout, ``None`` when none was planned.
        status: ``"ok"``, ``"skipped"`` or ``"failed"``.
        error: one-line reason for ``skipped`` / ``failed``.
        seconds: wall time spent on this file (read to written), in seconds.
        width, height: the upright photo size in pixels, once read.
        model: the registry name of the model that colorized it.
        hints: the colour hints used (:meth:`autocolor.hints.Hint.to_json` records), or
            ``None`` when none were given (the key is then left out of the JSON line).
    """

    input: str
    output: str | None
    status: str  # "ok" | "skipped" | "failed"
    error: str | None = None
    seconds: float = 0.0
    width: int | None = None
    height: int | None = None
    model: str | None = None
    hints: list[dict[str, Any]] | None = None

    def to_json(self) -> str:
        record = asdict(self)
        if self.hints is None:
            del record["hints"]
        record["seconds"] = round(self.seconds, 4)
        return json.dumps(record, ensure_ascii=False)


def failure_reason(exc: BaseException, input_path: str) -> str:
    """The reason part of ``input: reason`` for a failed item (an output path is kept)."""
    if isinstance(exc, InputImageError) and exc.path == input_path:
        return one_line(exc.reason)
    if isinstance(exc, OutputError):
        return one_line(f"cannot write {exc.path}: {exc.reason}")
    if isinstance(exc, AutocolorError):
        return one_line(exc)
    return one_line(f"internal error: {type(exc).__name__}: {exc}")
