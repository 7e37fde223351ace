"""Flicker and accuracy of per-frame vs temporally smoothed colorization, and video speed.

    python benchmarks/bench_video.py                 # bundled default model, 2 threads
    python benchmarks/bench_video.py --frames720 24 --photo-frames 20
    python benchmarks/bench_video.py --synthetic-frames 0 --frames720 0 --photos ../shared/data/val

Two clips, each colorized twice from the SAME network outputs (the network runs once per frame;
"per-frame" upsamples its ab directly, "smoothed" passes it through TemporalState first), so
the only difference is the temporal state:

(a) synthetic, made here: a coloured, textured background panning 1 px/frame and three
    textured shapes moving at their own integer speeds over it, 320 x 240;
(b) "real": scikit-image's sample photos (astronaut, coffee, chelsea, rocket; public domain /
    CC0, not stored in the repository), or with ``--photos DIR`` the first four colour photos
    of a folder, filmed with a slow pan and zoom, 320 x 240, one shot per photo, so the clip
    also has three scene cuts.

Flicker = warping error (:mod:`autocolor.video.flicker`): mean ab distance (Lab units)
between frame t and frame t-1 warped onto it, on the pixels where the flow is right. Both clips
know their true motion, so the main column uses the true flow and true occlusions; the second
uses Farneback flow estimated on the frames with a forward-backward check (a different flow
algorithm from the smoother's DIS). Pairs across a scene cut are not scored. The ground
truth's own warping error is printed for reference: with the true flow it is the floor (on (b)
bilinear resampling of the photo and of the metric's warp leave a few tenths of a Lab unit even
for perfectly steady colour); with Farneback it also holds that flow's errors on colourful
texture, so a smooth colorization can score below it. AuC (Zhang et
al.'s raw AuC of ab errors, thresholds 0..150) and PSNR (8-bit RGB, pooled MSE) compare every
frame with the colour ground truth of the clip. Speed: whole files (decode, L*, network,
state, upsampling, Lab -> RGB, H.264 encode) at 1280 x 720 with PyAV, frames/s.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from autocolor.color.lab import rgb_to_lab
from autocolor.metrics.auc import CMFAccumulator, ab_errors
from autocolor.metrics.fidelity import psnr_from_mse, to_uint8
from autocolor.pipeline import DEFAULT_MODEL, Colorizer, lightness_ab_to_rgb
from autocolor.video.flicker import FlickerMeter, estimated_flow
from autocolor.video.temporal import TemporalSettings, TemporalState

WIDTH, HEIGHT = 320, 240


@dataclass
class Frame:
    """A clip frame: ground-truth sRGB ``(H, W, 3)`` float in [0, 1], and the true backward flow
    to the previous frame with its valid pixels (``None`` for a shot's first frame)."""

    rgb: np.ndarray
    flow: np.ndarray | None
    mask: np.ndarray | None


def lab_of(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` sRGB in [0, 1] -> ``(3, H, W)`` float32 Lab."""
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))).numpy()


def smooth_colour_texture(height: int, width: int, seed: int, cell: int = 24) -> np.ndarray:
    """Random colourful texture ``(H, W, 3)`` in [0, 1]: smooth colour blobs plus fine grain."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (height // cell + 2, width // cell + 2, 3)).astype(np.float32)
    blobs = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.uniform(-0.12, 0.12, (height, width, 1)).astype(np.float32)
    return np.clip(blobs + grain, 0, 1)


def synthetic_clip(frames: int) -> Iterator[Frame]:
    """(a): background pans 1 px/frame right; a disc, a square and a bar move over it."""
    margin = frames + 4
    background = smooth_colour_texture(HEIGHT + margin, WIDTH + margin, seed=1, cell=40)
    shapes = []  # (texture, mask, start (x, y), velocity (vx, vy))
    yy, xx = np.mgrid[0:70, 0:70]
    disc = (xx - 35) ** 2 + (yy - 35) ** 2 <= 33**2
    shapes.append((smooth_colour_texture(70, 70, 2, 10), disc, (40, 60), (2, 1)))
    shapes.append((smooth_colour_texture(60, 60, 3, 12), np.ones((60, 60), bool), (220, 40), (-3, 1)))
    shapes.append((smooth_colour_texture(30, 120, 4, 10), np.ones((30, 120), bool), (120, 180), (1, -2)))
    velocities = [(1, 0)] + [s[3] for s in shapes]  # owner 0 = background (scene moves right)
    previous_owner = None
    for t in range(frames):
        x0 = margin - t  # the crop window moves left over the background: the scene moves right
        rgb = background[margin // 2 : margin // 2 + HEIGHT, x0 : x0 + WIDTH].copy()
        owner = np.zeros((HEIGHT, WIDTH), np.int32)
        for k, (texture, mask, (sx, sy), (vx, vy)) in enumerate(shapes, start=1):
            px, py = sx + vx * t, sy + vy * t
            h, w = mask.shape
            ys, xs = slice(max(py, 0), min(py + h, HEIGHT)), slice(max(px, 0), min(px + w, WIDTH))
            sub = mask[ys.start - py : ys.stop - py, xs.start - px : xs.stop - px]
            rgb[ys, xs][sub] = texture[ys.start - py : ys.stop - py, xs.start - px : xs.stop - px][sub]
            owner[ys, xs][sub] = k
        flow = mask = None
        if previous_owner is not None:
            v = np.array(velocities, np.float32)[owner]  # (H, W, 2) velocity of each pixel's owner
            flow = -v
            grid_y, grid_x = np.mgrid[0:HEIGHT, 0:WIDTH]
            src_x, src_y = grid_x - v[..., 0].astype(int), grid_y - v[..., 1].astype(int)
            inside = (src_x >= 0) & (src_x < WIDTH) & (src_y >= 0) & (src_y < HEIGHT)
            same = np.zeros_like(inside)
            same[inside] = previous_owner[src_y[inside], src_x[inside]] == owner[inside]
            mask = same  # visible in both frames and owned by the same object: the flow is right
        previous_owner = owner
        yield Frame(rgb, flow, mask)


def _affine(t: int, frames: int, photo_hw: tuple[int, int]) -> np.ndarray:
    """2x3 map from frame pixels to photo pixels at time t: slow pan left -> right and 12 % zoom-in."""
    ph, pw = photo_hw
    progress = t / max(frames - 1, 1)
    scale = 0.92 * min(pw / WIDTH, ph / HEIGHT) * (1.0 - 0.12 * progress)  # photo px per frame px
    span_x = pw - WIDTH * scale
    cx = WIDTH * scale / 2 + span_x * (0.2 + 0.6 * progress)
    cy = ph / 2 + 0.05 * ph * (progress - 0.5)
    return np.array([[scale, 0, cx - scale * WIDTH / 2], [0, scale, cy - scale * HEIGHT / 2]], np.float64)


def photo_clip(photos: list[np.ndarray], frames_each: int) -> Iterator[Frame]:
    """(b): each photo panned and zoomed for ``frames_each`` frames; a cut between photos."""
    grid = np.stack(np.mgrid[0:HEIGHT, 0:WIDTH][::-1], axis=-1).astype(np.float64)  # (H, W, 2) x, y
    for photo in photos:
        # Anti-alias before resampling (sigma = half the photo pixels per frame pixel), as a film
        # scan is: without it the frames alias, and the aliasing alone scores as flicker.
        sigma = 0.5 * _affine(0, frames_each, photo.shape[:2])[0, 0]
        source = cv2.GaussianBlur(photo.astype(np.float32) / 255.0, (0, 0), sigma)
        previous = None
        for t in range(frames_each):
            m = _affine(t, frames_each, photo.shape[:2])
            rgb = cv2.warpAffine(source, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            flow = mask = None
            if previous is not None:
                in_photo = grid @ m[:, :2].T + m[:, 2]
                back = np.linalg.inv(previous[:, :2])
                before = (in_photo - previous[:, 2]) @ back.T  # where that photo point was in frame t-1
                flow = (before - grid).astype(np.float32)
                mask = (before[..., 0] >= 0) & (before[..., 0] <= WIDTH - 1)
                mask &= (before[..., 1] >= 0) & (before[..., 1] <= HEIGHT - 1)
            previous = m
            yield Frame(np.clip(rgb, 0, 1), flow, mask)


@dataclass
class Scores:
    """Accumulated figures of one mode on one clip."""

    flicker_true: FlickerMeter = field(default_factory=FlickerMeter)
    flicker_est: FlickerMeter = field(default_factory=FlickerMeter)
    cmf: CMFAccumulator = field(default_factory=CMFAccumulator)
    squared: float = 0.0
    values: int = 0

    @property
    def psnr(self) -> float:
        return psnr_from_mse(self.squared / self.values)


def evaluate(colorizer: Colorizer, clip: Iterator[Frame], settings: TemporalSettings) -> dict[str, Scores]:
    """Per-frame and smoothed scores of one clip; the network runs once per frame for both."""
    state = TemporalState(settings)
    scores = {"per-frame": Scores(), "smoothed": Scores(), "truth": Scores()}
    previous_lightness = None
    for frame in clip:
        lab = lab_of(frame.rgb)
        lightness, truth_ab = lab[0], lab[1:]
        truth_rgb = to_uint8(frame.rgb).astype(np.float64)
        ab_low = colorizer.predict_ab_low(lightness)
        if frame.flow is None:
            state.reset()  # a new shot; the detector would also find it, but scoring must not depend on it
            est = None
        else:
            est = estimated_flow(lightness, previous_lightness)
        smoothed_low = state.update(lightness, ab_low)
        for mode, low in (("per-frame", ab_low), ("smoothed", smoothed_low), ("truth", None)):
            ab = truth_ab if low is None else colorizer.upsample_ab(low, lightness)
            s = scores[mode]
            if frame.flow is None:
                s.flicker_true.add(ab, np.zeros((*lightness.shape, 2), np.float32), np.zeros(lightness.shape, bool))
                s.flicker_est.add(ab, np.zeros((*lightness.shape, 2), np.float32), np.zeros(lightness.shape, bool))
            else:
                s.flicker_true.add(ab, frame.flow, frame.mask)
                s.flicker_est.add(ab, *est)
            s.cmf.update(ab_errors(ab, truth_ab))
            rgb = to_uint8(lightness_ab_to_rgb(lightness, ab)).astype(np.float64)
            s.squared += float(((rgb - truth_rgb) ** 2).sum())
            s.values += rgb.size
        previous_lightness = lightness
    return scores


def cut_detection(colorizer: Colorizer, photos: list[np.ndarray], frames_each: int) -> tuple[int, int]:
    """(cuts found, true cuts) by the state alone on clip (b), never reset by hand."""
    state = TemporalState()
    for frame in photo_clip(photos, frames_each):
        lightness = lab_of(frame.rgb)[0]
        state.update(lightness, np.zeros((2, 64, 64), np.float32))
    return state.cuts, len(photos) - 1


def speed_720p(colorizer: Colorizer, frames: int, settings: TemporalSettings | None) -> tuple[float, float]:
    """Frames/s of a whole 1280 x 720 file (decode -> colorize -> H.264 encode), and the
    fraction of the time spent in the network (the rest: decode, L*, state, upsampling,
    Lab -> RGB, encode)."""
    from autocolor.video.runner import VideoColorizer, colorize_video_file

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "clip720.mp4"
        write_gray_clip(source, frames)
        timed = TimedColorizer(colorizer)
        runner = VideoColorizer(timed, settings)  # type: ignore[arg-type]
        result = colorize_video_file(runner, source, Path(tmp) / "out.mp4")
        network_share = timed.network / result.seconds
        return result.fps, network_share


class TimedColorizer:
    """A :class:`Colorizer` stand-in that adds up the seconds spent in the network."""

    def __init__(self, colorizer: Colorizer) -> None:
        self._colorizer = colorizer
        self.network = 0.0

    def predict_ab_low(self, lightness: np.ndarray) -> np.ndarray:
        began = time.perf_counter()
        try:
            return self._colorizer.predict_ab_low(lightness)
        finally:
            self.network += time.perf_counter() - began

    def upsample_ab(self, ab_low: np.ndarray, lightness: np.ndarray) -> np.ndarray:
        return self._colorizer.upsample_ab(ab_low, lightness)


def write_gray_clip(path: Path, frames: int) -> None:
    import av

    texture = (smooth_colour_texture(720 + 40, 1280 + 40, seed=7, cell=60).mean(-1) * 255).astype(np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for t in range(frames):
            gray = texture[20 : 20 + 720, 20 + t : 20 + t + 1280]
            frame = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def sample_photos(folder: Path | None = None, count: int = 4) -> tuple[list[np.ndarray], str]:
    """The photos of clip (b): scikit-image's samples, or the first ``count`` colour photos of
    ``folder`` (e.g. ../shared/data/val; never stored in the repository), and a label."""
    if folder is None:
        from skimage import data

        return [getattr(data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")], "sample photos"
    from PIL import Image

    photos = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png") and len(photos) < count:
            with Image.open(path) as image:
                if image.mode == "RGB" and min(image.size) >= HEIGHT:
                    photos.append(np.asarray(image))
    if not photos:
        raise SystemExit(f"no colour photos of at least {HEIGHT} px in {folder}")
    return photos, f"photos of {folder.name}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--synthetic-frames", type=int, default=30, help="frames of clip (a) (0 = skip it)")
    parser.add_argument("--photos", type=Path, default=None,
                        help="folder of colour photos for clip (b) instead of scikit-image's (e.g. ../shared/data/val)")
    parser.add_argument("--photo-frames", type=int, default=16, help="frames per photo in clip (b)")
    parser.add_argument("--frames720", type=int, default=12, help="frames of the 720p speed clip (0 = skip)")
    parser.add_argument("--strength", type=float, default=TemporalSettings().strength)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    colorizer = Colorizer(args.model, "cpu")
    settings = TemporalSettings(strength=args.strength)
    photos, label = sample_photos(args.photos)
    clips = {}
    if args.synthetic_frames:
        clips[f"(a) synthetic {WIDTH}x{HEIGHT}, {args.synthetic_frames} frames"] = synthetic_clip(args.synthetic_frames)
    clips[f"(b) {len(photos)} {label} pan/zoom {WIDTH}x{HEIGHT}, {len(photos) * args.photo_frames} frames"] = (
        photo_clip(photos, args.photo_frames)
    )
    console = Console(width=150)
    table = Table(title=f"Video: per-frame vs smoothed, {args.model}, strength {settings.strength}, CPU {args.threads} threads")
    for column in ("clip", "figure", "per-frame", "smoothed", "measured", "target", "ok"):
        table.add_column(column)
    for name, clip in clips.items():
        began = time.perf_counter()
        scores = evaluate(colorizer, clip, settings)
        console.print(f"{name}: {time.perf_counter() - began:.0f} s")
        per, smooth = scores["per-frame"], scores["smoothed"]
        ratio = per.flicker_true.value / smooth.flicker_true.value
        ratio_est = per.flicker_est.value / smooth.flicker_est.value
        auc_delta = 100 * (smooth.cmf.auc() - per.cmf.auc())
        psnr_delta = smooth.psnr - per.psnr
        rows = [
            ("flicker, true flow (Lab)", per.flicker_true.value, smooth.flicker_true.value,
             f"{ratio:.1f}x lower", ">= 3x lower", ratio >= 3),
            ("flicker, Farneback (Lab)", per.flicker_est.value, smooth.flicker_est.value,
             f"{ratio_est:.1f}x lower", ">= 3x lower", ratio_est >= 3),
            ("ground truth's own flicker, true flow", scores["truth"].flicker_true.value, None, "", "", None),
            ("ground truth's own flicker, Farneback", scores["truth"].flicker_est.value, None, "", "", None),
            ("AuC (%)", 100 * per.cmf.auc(), 100 * smooth.cmf.auc(), f"{auc_delta:+.2f} pt", ">= -0.5 pt", auc_delta >= -0.5),
            ("PSNR (dB)", per.psnr, smooth.psnr, f"{psnr_delta:+.2f} dB", ">= -0.3 dB", psnr_delta >= -0.3),
        ]  # fmt: skip
        for figure, a, b, measured, target, ok in rows:
            verdict = "" if ok is None else ("yes" if ok else "NO")
            table.add_row(name, figure, f"{a:.2f}", "" if b is None else f"{b:.2f}", measured, target, verdict)
            name = ""
    found, true = cut_detection(colorizer, photos, args.photo_frames)
    table.add_row("(b) cuts", "scene cuts found / true", "", "", f"{found} / {true}", f"{true} / {true}",
                  "yes" if found == true else "NO")  # fmt: skip
    if args.frames720:
        per_fps, per_net = speed_720p(colorizer, args.frames720, None)
        smooth_fps, smooth_net = speed_720p(colorizer, args.frames720, settings)
        table.add_row("720p file", "frames/s (whole file)", f"{per_fps:.2f}", f"{smooth_fps:.2f}",
                      f"{smooth_fps / per_fps:.2f}x of per-frame", "report", "")  # fmt: skip
        table.add_row("", "share of time in the network", f"{100 * per_net:.0f} %", f"{100 * smooth_net:.0f} %",
                      "", "", "")  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    table.caption = f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs"
    console.print(table)
    if any(math.isnan(v) for v in (ratio, ratio_est)):
        console.print("some flicker figures are nan: no scored pixel pairs")


if __name__ == "__main__":
    main()
