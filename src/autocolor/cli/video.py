"""The video side of ``autocolor colorize``: options, and a run over video files or raw frames.

``colorize`` hands over here when its inputs are video files (by suffix) or ``--raw`` is
given; the work is :mod:`autocolor.video.runner`. Parsing and reporting only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from autocolor.cli.common import STDIO, ItemResult, debug_enabled, failure_reason, print_summary, terminal_progress
from autocolor.errors import UsageError
from autocolor.video import DEFAULT_STRENGTH

F = TypeVar("F", bound=Callable[..., Any])


def _seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``90``, ``90.5``, ``1:30`` or ``0:01:30.5`` -> seconds."""
    if value is None:
        return None
    match = re.fullmatch(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)", value.strip())
    if not match:
        raise click.BadParameter(f"{value!r} is not a time: use seconds (90.5) or [HH:]MM:SS[.ms]")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def video_options(f: F) -> F:
    """``--start``, ``--end``, ``--smoothing``, ``--video-codec``, ``--resume``, ``--raw``, ``--raw-format``."""
    decorators = [
        click.option("--start", callback=_seconds, metavar="TIME",
                     help="Video: begin here (seconds, or [HH:]MM:SS[.ms]); default: the beginning."),
        click.option("--end", callback=_seconds, metavar="TIME",
                     help="Video: stop before this time; default: the end."),
        click.option("--smoothing", type=click.FloatRange(0.0, 1.0, max_open=True), default=DEFAULT_STRENGTH,
                     show_default=True,
                     help="Video: how much colour is carried along the motion from frame to frame "
                          "(0 = every frame on its own, which flickers)."),
        click.option("--video-codec", metavar="NAME", default=None,
                     help="Video: encoder (default by suffix: libx264, libvpx-vp9 for .webm, mpeg4 for .avi)."),
        click.option("--resume", is_flag=True,
                     help="Video: work in 10-second segments kept in a hidden folder beside the output; "
                          "after an interrupt, the same command with --resume goes on where it stopped."),
        # Segment length of --resume, in frames; hidden: tests shorten it to interrupt a tiny clip.
        click.option("--segment-frames", type=click.IntRange(min=1), default=None, hidden=True),
        click.option("--raw", "raw_size", metavar="WxH", default=None,
                     help="Raw frames: read WxH frames from the input (- for stdin), write rgb24 frames."),
        click.option("--raw-format", type=click.Choice(["gray", "rgb24"]), default="gray", show_default=True,
                     help="Pixel format of --raw input frames (output is always rgb24)."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def wants_video(inputs: Sequence[str], video: dict[str, Any]) -> bool:
    """Whether ``colorize`` should hand over here (``video``: the values of :func:`video_options`).

    Mixing videos and photos, or video options with photos only, is a usage error.
    """
    from autocolor.video import is_video_path

    raw_size = video["raw_size"]
    videos = [p for p in inputs if p != STDIO and is_video_path(p)]
    if raw_size is None and not videos:
        given = [f"--{k.replace('_', '-')}" for k in ("start", "end", "video_codec", "resume") if video[k]]
        if given:
            raise UsageError(f"{', '.join(given)}: for videos only, and no input is a video")
        return False
    if raw_size is None and len(videos) != len(inputs):
        raise UsageError("colorize videos and photos in separate runs")
    return True


class _FrameProgress:
    """A progress bar in frames with frames/s and ETA on stderr (nothing when not a terminal)."""

    def __init__(self, name: str, *, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._name = name
        if enabled:
            self._bar = terminal_progress([("{task.fields[fps]} frames/s", "")], eta_after=1)

    def start(self, total: int | None) -> None:
        if self._bar is not None:
            self._started = time.perf_counter()
            self._task = self._bar.add_task(self._name, total=total, fps="-")
            self._bar.start()

    def frame(self, done: int) -> None:
        if self._bar is not None and self._task is not None:
            rate = done / max(time.perf_counter() - self._started, 1e-9)
            self._bar.update(self._task, completed=done, fps=f"{rate:.2f}")

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


# colorize options that have no meaning for a film (per-photo hints, batch scale-out).
_PHOTO_ONLY = {"hint_texts": "--hint", "hints_file": "--hints", "files_from": "--files-from", "shard": "--shard",
               "manifest": "--manifest", "use_ray": "--ray", "format_": "--format", "hint_spread": "--hint-spread"}  # fmt: skip


def run_video_command(params: dict[str, Any]) -> int:
    """``colorize``'s parsed parameters (``click.Context.params``) -> :func:`run_video`'s exit status."""
    from autocolor import pipeline
    from autocolor.models import model_info
    from autocolor.cli.options import bin_decoding_extra
    from autocolor.sampling import gcp_extra

    given = [flag for name, flag in _PHOTO_ONLY.items() if params.get(name)]
    if given:
        raise UsageError(f"{', '.join(given)}: for photos only, not for videos")
    model_name = params["model"] or pipeline.DEFAULT_MODEL
    model_info(model_name)  # an unknown name is a usage error before anything runs
    extra = gcp_extra(model_name, class_ref=params["class_ref"], direction=params["direction"],
                      strength=params["strength"])  # fmt: skip
    extra.update(bin_decoding_extra(model_name, params["prior_correction"], params["flip_average"]))
    options = {
        "size": params["size"], "decoding": params["decoding"], "temperature": params["temperature"],
        "upsample": params["upsample"], "seed": params["seed"], "pretrained": not params["random_weights"],
        "offline": params["offline"], "extra": extra,
    }  # fmt: skip
    return run_video(
        params["inputs"], params["output"],
        colorizer_factory=lambda: pipeline.Colorizer(model_name, params["device"], **options),
        model_name=model_name, start=params["start"], end=params["end"], smoothing=params["smoothing"],
        video_codec=params["video_codec"], resume=params["resume"], segment_frames=params["segment_frames"],
        raw_size=params["raw_size"],
        raw_format=params["raw_format"],
        overwrite=params["overwrite"], as_json=params["as_json"], quiet=params["quiet"],
    )  # fmt: skip


def run_video(
    inputs: Sequence[str],
    output: str | None,
    *,
    colorizer_factory: Callable[[], Any],
    model_name: str,
    start: float | None,
    end: float | None,
    smoothing: float,
    video_codec: str | None,
    resume: bool,
    segment_frames: int | None,
    raw_size: str | None,
    raw_format: str,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
) -> int:
    """Colorize video files (or one raw stream); returns the exit status (0 ok/skipped, 1 failures)."""
    from autocolor.video.reader import check_range
    from autocolor.video.temporal import TemporalSettings

    check_range(start, end)
    temporal = TemporalSettings(strength=smoothing) if smoothing > 0 else None
    with _stop_on_sigterm():
        if raw_size is not None:
            return _run_raw(inputs, output, colorizer_factory, temporal, raw_size, raw_format, quiet=quiet)
        jobs = _plan(inputs, output, overwrite=overwrite)
        results: list[ItemResult] = []
        runner = None
        for source, target, decided in jobs:
            result = decided
            if result is None:
                if runner is None:
                    from autocolor.video.runner import VideoColorizer

                    runner = VideoColorizer(colorizer_factory(), temporal)
                segments = {"resume": resume, **({"segment_frames": segment_frames} if segment_frames else {})}
                result = _one(runner, source, target, start, end, video_codec, segments, quiet=quiet or as_json)
            result.model = model_name
            results.append(result)
            if as_json:
                click.echo(result.to_json())
        print_summary(results, quiet=quiet)
        return 1 if any(r.status == "failed" for r in results) else 0


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM stops a film at once, like Ctrl-C (temporary file removed, --resume segments kept),
    and exits 143: finishing the file in flight, as photo batches do, could take hours here."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        click.echo("autocolor: stopped by SIGTERM", err=True)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _plan(inputs: Sequence[str], output: str | None, *, overwrite: bool) -> list[tuple[str, str, ItemResult | None]]:
    """``(input, output, decided result or None)`` per video, before the model loads."""
    from autocolor.imagefile import same_file
    from autocolor.video.runner import default_video_output

    if output == STDIO:
        raise UsageError("a video cannot go to stdout; use -o FILE (or --raw for raw frames)")
    folder = output is not None and (os.path.isdir(output) or output.endswith(("/", os.sep)) or len(inputs) > 1)
    if folder and output is not None and os.path.isfile(output):
        raise UsageError(f"-o {output}: several videos need -o to be a folder, and this is a file")
    plan: list[tuple[str, str, ItemResult | None]] = []
    claimed: dict[str, str] = {}
    for source in inputs:
        if output is None:
            target = str(default_video_output(source))
        elif folder:
            target = str(Path(output) / Path(source).name)
        else:
            target = output
        decided = None
        key = os.path.realpath(target)
        if key in claimed:
            decided = ItemResult(source, target, "failed", f"output {target} is also the output of {claimed[key]}")
        elif os.path.exists(target) and same_file(source, target):
            decided = ItemResult(source, target, "failed", f"{target} is the input file; refusing to overwrite an input")
        elif os.path.exists(target) and not overwrite:
            decided = ItemResult(source, target, "skipped", f"{target} exists (use --overwrite)")
        claimed.setdefault(key, source)
        plan.append((source, target, decided))
    return plan


def _one(
    runner: Any,
    source: str,
    target: str,
    start: float | None,
    end: float | None,
    codec: str | None,
    segments: dict[str, Any],
    *,
    quiet: bool,
) -> ItemResult:
    from autocolor.video.runner import colorize_video_file

    began = time.perf_counter()
    progress = _FrameProgress(Path(source).name, enabled=not quiet)
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        done = colorize_video_file(
            runner, source, target, start=start, end=end, codec=codec, **segments,
            on_start=progress.start, on_frame=progress.frame,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one bad video must not stop the others
        if debug_enabled():
            import traceback

            traceback.print_exc()
        return ItemResult(source, target, "failed", failure_reason(exc, source), time.perf_counter() - began)
    finally:
        progress.stop()
    result = ItemResult(source, target, "ok", None, done.seconds)
    if done.refused_audio and not quiet:
        click.echo(f"autocolor: {source}: audio ({', '.join(done.refused_audio)}) cannot go into "
                   f"{Path(target).suffix}; written without it (try .mkv)", err=True)  # fmt: skip
    return result


def _run_raw(
    inputs: Sequence[str],
    output: str | None,
    colorizer_factory: Callable[[], Any],
    temporal: Any,
    raw_size: str,
    raw_format: str,
    *,
    quiet: bool,
) -> int:
    from autocolor.video.raw import parse_size
    from autocolor.video.runner import VideoColorizer, colorize_raw_stream

    size = parse_size(raw_size)
    if len(inputs) != 1:
        raise UsageError("--raw takes exactly one input: - (stdin) or a file of raw frames")
    target = output or STDIO
    if target == STDIO and sys.stdout.isatty():
        raise UsageError("refusing to write raw frames to a terminal; pipe them or use -o FILE")
    runner = VideoColorizer(colorizer_factory(), temporal)
    progress = _FrameProgress("frames", enabled=not quiet)
    progress.start(None)
    source = sys.stdin.buffer if inputs[0] == STDIO else open(inputs[0], "rb")  # noqa: SIM115
    try:
        if target == STDIO:
            colorize_raw_stream(runner, source, sys.stdout.buffer, size, raw_format, on_frame=progress.frame)
        else:
            from autocolor.video.writer import atomic_path

            with atomic_path(target) as temporary, open(temporary, "wb") as sink:
                colorize_raw_stream(runner, source, sink, size, raw_format, on_frame=progress.frame)
    finally:
        progress.stop()
        if source is not sys.stdin.buffer:
            source.close()
    return 0
