"""Figures the fault and fuzz tests report to ``benchmarks/bench_reliability.py``.

When ``$AUTOCOLOR_RELIABILITY_LOG`` names a file, :func:`record` appends one JSON line per
event there (a fuzz case and its outcome class, a signal sent and survived, files lost);
otherwise it does nothing, so the tests run the same in CI.
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "AUTOCOLOR_RELIABILITY_LOG"


def record(kind: str, **fields: Any) -> None:
    """Append ``{"kind": kind, **fields}`` to the report log, if one is asked for."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:  # one short write per line: safe across processes
        handle.write(json.dumps({"kind": kind, **fields}) + "\n")
