"""Larsson's hue/chroma histograms -> ab (output kind ``"hue_chroma"``).

Pipeline of the registered decoder, following the official ``autocolorize`` inference:

1. L* -> official scale (short side <= 256, long side <= 500, never enlarged; the network's
   ``max_short_side`` / ``max_long_side``), zero-padded (black) to the canvas ``S``.
2. Network -> 32 hue + 32 chroma logits on the stride-4 grid -> softmax -> x4 upsampling with
   Caffe's fixed bilinear deconvolution (as the official deploy net does) -> padding cropped off.
3. Per pixel: a hue and a chroma from the histograms (method below), then the official HSV
   reconstruction around the gray value ``g``: ``V = g + c / 2``, ``S = 2 c / (2 g + c)``.
4. HSV -> sRGB -> Lab; only ``ab`` is returned, at the scaled size. The caller joins it with the
   original full-resolution L*.

Step 4 differs from the official ``match_lightness``, which shifts R, G and B by one amount so
that ``mean(R, G, B)`` equals the input gray and then clips: there the *mean RGB* is kept; here
the CIE L* of the input is kept exactly and only the chromaticity (a*, b*) comes from the model.
Official decoding also resizes the histograms to full resolution before decoding; here ab is
decoded at the network's scale and upsampled by the pipeline.

Methods (``DecodeOptions.method``):
- ``"median"`` (default, official): chroma = histogram median (centre of the first bin whose
  cumulative mass reaches 0.5); hue = circular mean; chromatic fading on.
- ``"expectation"``: chroma = mean of the bin centres; hue = circular mean; no fading.
- ``"mode"``: centre of the most likely bin for both. (The official chroma mode uses the bin's
  lower edge, ``argmax / 32``; centres are used here for both.)
- ``"sample"``: independent per-pixel draws from both histograms at ``options.temperature``
  (inverse CDF, bin centres), seeded by ``options.generator``.

``options.extra``: ``fading`` (bool, default on for ``median`` only), ``official_scaling`` (bool,
default True).

Chromatic fading (official): ``cc = |mean_k p_k exp(2 pi i h_k)|`` (mean over the 32 bins, so a
one-hot hue histogram gives 1/32), chroma *= ``min(cc, 0.03) / 0.03``: an uncertain hue fades to
gray. (../shared/REFERENCE.md writes the sum; the official code takes the mean.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.color.lab import rgb_to_lab
from autocolor.decode import DecodeOptions, register_decoder
from autocolor.errors import UsageError
from autocolor.models.larsson import (
    HYPERCOLUMN_STRIDE,
    NUM_HUE_BINS,
    caffe_bilinear_upsample,
    lightness_to_gray,
    official_scale_factor,
    pad_to_canvas,
)

METHODS = ("median", "expectation", "mode", "sample")
FADING_THRESHOLD = 0.03  # official: chroma *= clip(cc, 0, 0.03) / 0.03


def bin_centres(bins: int, like: torch.Tensor) -> torch.Tensor:
    """``(bins,)`` centres ``(k + 0.5) / bins`` of uniform bins over ``[0, 1)``."""
    return (torch.arange(bins, dtype=like.dtype, device=like.device) + 0.5) / bins


def _centres_view(hist: torch.Tensor) -> torch.Tensor:
    return bin_centres(hist.shape[1], hist).view(1, -1, 1, 1)


def histogram_median(hist: torch.Tensor) -> torch.Tensor:
    """``(N, B, h, w)`` probabilities -> ``(N, 1, h, w)`` centre of the bin holding the median."""
    below = (hist.cumsum(dim=1) < 0.5).sum(dim=1, keepdim=True).clamp(max=hist.shape[1] - 1)
    return (below.to(hist.dtype) + 0.5) / hist.shape[1]


def histogram_expectation(hist: torch.Tensor) -> torch.Tensor:
    """``(N, B, h, w)`` -> ``(N, 1, h, w)`` mean of the bin centres."""
    return (hist * _centres_view(hist)).sum(dim=1, keepdim=True)


def histogram_mode(hist: torch.Tensor) -> torch.Tensor:
    """``(N, B, h, w)`` -> ``(N, 1, h, w)`` centre of the most likely bin."""
    return (hist.argmax(dim=1, keepdim=True).to(hist.dtype) + 0.5) / hist.shape[1]


def histogram_sample(hist: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One independent inverse-CDF draw per pixel: ``(N, B, h, w)`` -> ``(N, 1, h, w)`` bin centre."""
    gen_device = generator.device if generator is not None else hist.device
    u = torch.rand((hist.shape[0], 1, *hist.shape[2:]), generator=generator, device=gen_device,
                   dtype=hist.dtype).to(hist.device)
    index = (u > hist.cumsum(dim=1)).sum(dim=1, keepdim=True).clamp(max=hist.shape[1] - 1)
    return (index.to(hist.dtype) + 0.5) / hist.shape[1]


def circular_mean_hue(hist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Circular mean of a hue histogram and its concentration.

    Returns ``hue`` ``(N, 1, h, w)`` in ``[0, 1)`` (turns) and ``cc`` ``(N, 1, h, w)``: the modulus
    of ``mean_k p_k exp(2 pi i h_k)``, between 0 (no preferred hue) and ``1 / B`` (one bin).
    """
    angle = 2.0 * math.pi * _centres_view(hist)
    re = (hist * torch.cos(angle)).sum(dim=1, keepdim=True)
    im = (hist * torch.sin(angle)).sum(dim=1, keepdim=True)
    hue = torch.remainder(torch.atan2(im, re) / (2.0 * math.pi), 1.0)
    return hue, torch.hypot(re, im) / hist.shape[1]


def chromatic_fading(cc: torch.Tensor, threshold: float = FADING_THRESHOLD) -> torch.Tensor:
    """Official fading factor in ``[0, 1]`` from the hue concentration ``cc``."""
    return cc.clamp(0.0, threshold) / threshold


def decode_histograms(
    hist_h: torch.Tensor,
    hist_c: torch.Tensor,
    method: str = "median",
    *,
    fading: bool | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hue and chroma per pixel from their histograms.

    Args:
        hist_h, hist_c: ``(N, 32, h, w)`` probabilities (each pixel sums to 1).
        method: one of :data:`METHODS`.
        fading: chromatic fading; ``None`` means on for ``median`` only (the official default).
        generator: random source for ``sample``.

    Returns:
        ``hue`` in ``[0, 1)`` and ``chroma`` in ``[0, 1]``, both ``(N, 1, h, w)``.
    """
    if method not in METHODS:
        raise UsageError(f"unknown hue/chroma decoding {method!r}; choose from: {', '.join(METHODS)}")
    mean_hue, cc = circular_mean_hue(hist_h)
    if method == "median":
        hue, chroma = mean_hue, histogram_median(hist_c)
    elif method == "expectation":
        hue, chroma = mean_hue, histogram_expectation(hist_c)
    elif method == "mode":
        hue, chroma = histogram_mode(hist_h), histogram_mode(hist_c)
    else:
        hue = histogram_sample(hist_h, generator)
        chroma = histogram_sample(hist_c, generator)
    if fading if fading is not None else method == "median":
        chroma = chroma * chromatic_fading(cc)
    return hue, chroma


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """HSV ``(N, 3, h, w)`` in ``[0, 1]`` (hue in turns) -> sRGB ``(N, 3, h, w)`` in ``[0, 1]``."""
    hue, sat, val = hsv.unbind(dim=1)
    sector6 = hue * 6.0
    sector = torch.floor(sector6)
    frac = sector6 - sector
    sector = torch.remainder(sector, 6).long()
    p = val * (1.0 - sat)
    q = val * (1.0 - sat * frac)
    t = val * (1.0 - sat * (1.0 - frac))
    # Rows: the (R, G, B) choice among (v, p, q, t) for hue sectors 0..5.
    table = torch.tensor([[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0], [3, 1, 0], [0, 1, 2]],
                         device=hsv.device)
    candidates = torch.stack((val, p, q, t), dim=1)  # (N, 4, h, w)
    pick = table[sector].permute(0, 3, 1, 2)  # (N, 3, h, w)
    return torch.gather(candidates, 1, pick)


def rgb_to_hue_chroma(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB ``(N, 3, H, W)`` in ``[0, 1]`` -> HSV hue in ``[0, 1)`` and chroma ``max - min``.

    Achromatic pixels get hue 0, as in the official training layer.
    """
    r, g, b = rgb.unbind(dim=1)
    top, _ = rgb.max(dim=1)
    chroma = top - rgb.min(dim=1).values
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    sector = torch.where(
        top == r, (g - b) / safe, torch.where(top == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe)
    )
    hue = torch.remainder(sector / 6.0, 1.0)
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    return hue.unsqueeze(1), chroma.unsqueeze(1)


def hue_chroma_to_rgb(hue: torch.Tensor, chroma: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
    """Official reconstruction: ``V = g + c / 2``, ``S = 2c / (2g + c)``, clipped, HSV -> sRGB.

    All inputs ``(N, 1, h, w)`` in ``[0, 1]``; returns sRGB ``(N, 3, h, w)`` in ``[0, 1]``.
    """
    val = gray + chroma / 2.0
    denom = 2.0 * gray + chroma
    sat = torch.where(denom > 0, 2.0 * chroma / denom.clamp_min(1e-12), torch.zeros_like(denom))
    hsv = torch.cat((hue, sat, val), dim=1).clamp(0.0, 1.0)
    return hsv_to_rgb(hsv).clamp(0.0, 1.0)


def hue_chroma_to_ab(hue: torch.Tensor, chroma: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
    """Hue, chroma and gray ``(N, 1, h, w)`` -> ab ``(N, 2, h, w)`` in Lab units."""
    return rgb_to_lab(hue_chroma_to_rgb(hue, chroma, gray))[:, 1:]


def predict_histograms(
    net: nn.Module,
    lightness: torch.Tensor,
    *,
    temperature: float = 1.0,
    official_scaling: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run a Larsson network the official way; returns ``(hist_h, hist_c, gray)``.

    Args:
        net: a ``"hue_chroma"`` network (:class:`autocolor.models.larsson.LarssonNet`).
        lightness: ``(N, 1, h, w)`` L* in ``[0, 100]``.
        temperature: softmax temperature applied to the logits (1 = the model's histograms).
        official_scaling: first shrink to the official scale (aspect kept, never enlarged).

    Returns:
        Hue and chroma probabilities ``(N, 32, h', w')`` and the gray input ``(N, 1, h', w')`` in
        ``[0, 1]``, at the scaled size ``h' x w'`` (``h x w`` when no shrinking was needed).
    """
    if official_scaling:
        h, w = lightness.shape[-2:]
        scale = official_scale_factor(h, w, getattr(net, "max_short_side", 256),
                                      getattr(net, "max_long_side", 500))
        if scale < 1.0:
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
            lightness = F.interpolate(lightness, size=size, mode="bilinear", align_corners=False,
                                      antialias=True)
    h, w = lightness.shape[-2:]
    padded, (top, left) = pad_to_canvas(lightness, getattr(net, "canvas_size", 0))
    logits = net(padded).float()
    hists = []
    for part in (logits[:, :NUM_HUE_BINS], logits[:, NUM_HUE_BINS:]):
        probs = torch.softmax(part / temperature, dim=1)
        # Official: the softmax, not the logits, is upsampled x4 by the fixed bilinear deconv.
        probs = caffe_bilinear_upsample(probs, HYPERCOLUMN_STRIDE)[..., top:top + h, left:left + w]
        # The deconvolution fades towards the canvas edge (it zero-pads): renormalise so that
        # the two outermost rows/columns hold histograms too (a no-op everywhere else).
        hists.append(probs / probs.sum(dim=1, keepdim=True).clamp_min(1e-12))
    with torch.autocast(device_type=lightness.device.type, enabled=False):
        gray = lightness_to_gray(lightness.float())
    return hists[0], hists[1], gray


@register_decoder("hue_chroma", methods=METHODS)
def decode_hue_chroma(net: nn.Module, lightness: torch.Tensor, options: DecodeOptions) -> torch.Tensor:
    """Registered decoder: L* ``(N, 1, h, w)`` -> ab ``(N, 2, h', w')`` at the official scale."""
    temperature = options.temperature if options.method == "sample" else 1.0
    if temperature <= 0:
        raise UsageError(f"temperature must be > 0, got {temperature}")
    hist_h, hist_c, gray = predict_histograms(
        net, lightness, temperature=temperature,
        official_scaling=bool(options.extra.get("official_scaling", True)),
    )  # fmt: skip
    # Colour conversions in fp32 even when the network ran under bf16/fp16 autocast.
    with torch.autocast(device_type=lightness.device.type, enabled=False):
        hue, chroma = decode_histograms(hist_h, hist_c, options.method,
                                        fading=options.extra.get("fading"), generator=options.generator)
        return hue_chroma_to_ab(hue, chroma, gray)
