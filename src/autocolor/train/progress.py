"""Progress reporting for training: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

PLAIN_EVERY = 50  # steps between plain log lines when no live bar is shown


@contextlib.contextmanager
def progress_reporter(
    total_steps: int, enabled: bool = True
) -> Iterator[tuple[Callable[[dict[str, float]], None], Callable[[str], None]]]:
    """Yield ``(on_step, log)`` callbacks for :func:`autocolor.train.loop.train`."""
    console = Console(stderr=True)
    live = enabled and console.is_terminal
    if not live:

        def on_plain_step(metrics: dict[str, float]) -> None:
            step = int(metrics["step"])
            if step % PLAIN_EVERY == 0 or "val_loss" in metrics:
                shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k != "step")
                print(f"step {step}/{total_steps} {shown}", file=sys.stderr, flush=True)

        yield on_plain_step, lambda message: print(message, file=sys.stderr, flush=True)
        return
    progress = Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[speed]:.1f} img/s"),
        TimeRemainingColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("train", total=total_steps, loss=float("nan"), speed=0.0)

        def on_live_step(metrics: dict[str, float]) -> None:
            progress.update(task, completed=int(metrics["step"]), loss=metrics["loss"], speed=metrics["images_per_s"])
            if "val_loss" in metrics:
                progress.console.print(f"step {int(metrics['step'])}: " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("val")))

        yield on_live_step, progress.console.print
