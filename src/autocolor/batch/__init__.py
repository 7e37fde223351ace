"""Batches of photos: planning, the per-file function and the in-process runner.

The layer between the pipeline (one photo) and the CLI (options and reports)::

    from autocolor.batch import plan_jobs, run_batch, InputFile
    jobs = plan_jobs([InputFile("a.jpg"), InputFile("b.png")], "out/", folder=True,
                     format=None, overwrite=False)
    results = run_batch(jobs, colorizer, on_result=print)

- :mod:`autocolor.batch.plan`: :class:`InputFile`, :class:`Job`, :func:`plan_jobs`,
  :func:`plan_output` (outputs, skips and refusals, decided before the model loads).
- :mod:`autocolor.batch.item`: :func:`process_one` (read, colorize, atomic write; never
  raises for a bad file) and its pieces, for executors that take one file at a time.
- :mod:`autocolor.batch.runner`: :func:`run_batch`, the bounded reader -> network -> writer
  pipeline with ``on_result`` / ``should_stop`` hooks.
- :mod:`autocolor.batch.results`: :class:`ItemResult` and :func:`failure_reason`.

Importing this package imports neither torch nor the image stack.
"""

from __future__ import annotations

from autocolor.batch.item import ensure_parent, process_one, read_input, render_and_write
from autocolor.batch.plan import OUTPUT_TAG, STDIO, InputFile, Job, plan_jobs, plan_output
from autocolor.batch.results import ItemResult, failure_reason, one_line
from autocolor.batch.runner import run_batch

__all__ = [
    "OUTPUT_TAG",
    "STDIO",
    "InputFile",
    "ItemResult",
    "Job",
    "ensure_parent",
    "failure_reason",
    "one_line",
    "plan_jobs",
    "plan_output",
    "process_one",
    "read_input",
    "render_and_write",
    "run_batch",
]
