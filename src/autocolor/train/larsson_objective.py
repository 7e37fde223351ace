"""Larsson et al.'s training objective: hue/chroma histogram KL at sparse pixel locations.

Per image, ``K`` pixel locations are drawn uniformly (a seeded generator, so a run repeats); the
network's hypercolumn is sampled there bilinearly from every layer (``LarssonNet.head_at_points``)
instead of being built densely, which keeps memory per image proportional to ``K``.

Targets follow the official training net: the ground-truth sRGB gives HSV hue and chroma
(``max - min``), each quantised into 32 uniform bins; the target at a location is the normalised
histogram of the bins in a ``window x window`` neighbourhood (official: 7, truncated at the
border). The loss is a KL divergence per location, averaged over all locations:

    loss = hue_weight * mean(chroma * KL_hue) + chroma_weight * mean(w(g) * KL_chroma)

- the hue term is weighted by the pixel's chroma (the paper: hue is meaningless for grays);
- ``w(g) = min(3 g, 1, 3 (1 - g))`` with ``g = mean(R, G, B)`` down-weights the chroma term on
  near-black and near-white pixels, where chroma is forced small (official training file;
  ``lightness_weighted_chroma=False`` turns it off);
- official weights: ``hue_weight = 5``, ``chroma_weight = 1``.

``dense=True`` evaluates the same loss at every pixel (features upsampled to full resolution):
the paper's "dense" alternative, kept for comparisons and memory measurements.

Crops whose sides are not multiples of 32 are zero-padded (black, like the official canvas) at
the bottom and right for the network; locations are drawn inside the crop only. A model in eval
mode (validation) gets the same locations every call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.color.lab import lab_to_rgb
from autocolor.decode.hue_chroma import rgb_to_hue_chroma
from autocolor.models.larsson import NUM_CHROMA_BINS, NUM_HUE_BINS, SIZE_MULTIPLE


def quantise(values: torch.Tensor, bins: int) -> torch.Tensor:
    """Values in ``[0, 1]`` -> bin index ``floor(v * bins)`` clamped to ``[0, bins - 1]`` (long)."""
    return (values * bins).floor().clamp(0, bins - 1).long()


def window_histograms(bins: torch.Tensor, points: torch.Tensor, window: int, num_bins: int) -> torch.Tensor:
    """Normalised histograms of ``bins`` in a ``window x window`` box around each point.

    Args:
        bins: ``(N, H, W)`` long bin indices.
        points: ``(N, K, 2)`` long ``(y, x)`` pixel positions.
        window: odd box side; pixels outside the image are left out (not clamped).
        num_bins: histogram length.

    Returns:
        ``(N, K, num_bins)`` float histograms, each summing to 1.
    """
    n, h, w = bins.shape
    radius = window // 2
    offsets = torch.arange(-radius, radius + 1, device=bins.device)
    ys = points[..., 0, None, None] + offsets.view(-1, 1)  # (N, K, window, 1)
    xs = points[..., 1, None, None] + offsets.view(1, -1)  # (N, K, 1, window)
    valid = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).flatten(2)
    index = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).flatten(2)  # (N, K, window^2)
    picked = bins.flatten(1).gather(1, index.flatten(1)).view_as(index)
    hist = torch.zeros(n, points.shape[1], num_bins, device=bins.device)
    hist.scatter_add_(2, picked, valid.float())
    return hist / hist.sum(dim=2, keepdim=True)


def dense_window_histograms(bins: torch.Tensor, window: int, num_bins: int) -> torch.Tensor:
    """:func:`window_histograms` at every pixel: ``(N, H, W)`` -> ``(N, num_bins, H, W)``."""
    one_hot = F.one_hot(bins, num_bins).permute(0, 3, 1, 2).float()
    if window == 1:
        return one_hot
    return F.avg_pool2d(one_hot, window, stride=1, padding=window // 2, count_include_pad=False)


def chroma_loss_weight(gray: torch.Tensor) -> torch.Tensor:
    """Official triangle weight ``min(3 g, 1, 3 (1 - g))`` of the chroma term, ``g`` in ``[0, 1]``."""
    return torch.minimum(torch.minimum(3.0 * gray, torch.ones_like(gray)), 3.0 * (1.0 - gray))


def kl_divergence(target: torch.Tensor, logits: torch.Tensor, dim: int) -> torch.Tensor:
    """``KL(target || softmax(logits))`` along ``dim`` (``0 log 0 = 0``)."""
    return (torch.xlogy(target, target) - target * F.log_softmax(logits, dim=dim)).sum(dim=dim)


class LarssonObjective:
    """Sparse hue/chroma histogram loss; ``objective(model, lightness, ab) -> (loss, metrics)``.

    Args:
        points_per_image: ``K`` locations per image (official: 128).
        seed: seeds the location sampler; the same seed gives the same sequence of locations.
        window: side of the target histogram box (official: 7; 1 = the pixel's own bin).
        hue_weight, chroma_weight: weights of the two terms (official: 5 and 1).
        lightness_weighted_chroma: apply :func:`chroma_loss_weight` to the chroma term.
        margin: share of each side kept free of locations (the official sampler draws
            96..255 in 352-pixel crops, about 0.27); 0 samples anywhere.
        dense: evaluate at every pixel instead (memory comparisons).
    """

    def __init__(
        self,
        points_per_image: int = 128,
        seed: int = 0,
        window: int = 7,
        hue_weight: float = 5.0,
        chroma_weight: float = 1.0,
        lightness_weighted_chroma: bool = True,
        margin: float = 0.0,
        dense: bool = False,
    ) -> None:
        if points_per_image < 1 or window < 1 or window % 2 == 0 or not 0.0 <= margin < 0.5:
            raise ValueError("need points_per_image >= 1, an odd window >= 1 and 0 <= margin < 0.5")
        self.points_per_image = points_per_image
        self.window = window
        self.hue_weight = hue_weight
        self.chroma_weight = chroma_weight
        self.lightness_weighted_chroma = lightness_weighted_chroma
        self.margin = margin
        self.dense = dense
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The location generator's state, saved in training checkpoints for exact resumption."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["generator"])

    def sample_points(self, batch: int, height: int, width: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """``(N, K, 2)`` long ``(y, x)`` pixel positions, uniform inside the margin (CPU).

        Draws from the objective's own generator unless ``generator`` is given.
        """
        generator = generator if generator is not None else self.generator
        y0, x0 = int(self.margin * height), int(self.margin * width)
        y1, x1 = max(y0 + 1, height - y0), max(x0 + 1, width - x0)
        shape = (batch, self.points_per_image)
        ys = torch.randint(y0, y1, shape, generator=generator)
        xs = torch.randint(x0, x1, shape, generator=generator)
        return torch.stack((ys, xs), dim=-1)

    def __call__(
        self, model: nn.Module, lightness: torch.Tensor, ab: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss on a batch: ``lightness`` ``(N, 1, H, W)`` L* in [0, 100], ``ab`` ``(N, 2, H, W)``.

        A model in eval mode (validation) gets the same locations on every call, so validation
        losses are comparable and do not move the training sequence on.
        """
        if self.dense:
            return self.loss_dense(model, lightness, ab)
        n, _, h, w = lightness.shape
        fixed = None if model.training else torch.Generator().manual_seed(self.seed)
        points = self.sample_points(n, h, w, generator=fixed)
        return self.loss_at(model, lightness, ab, points.to(lightness.device))

    # -- targets ----------------------------------------------------------------------------
    def _targets(self, lightness: torch.Tensor, ab: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hue bins, chroma bins ``(N, H, W)``, hue-term and chroma-term weights ``(N, H, W)``."""
        # fp32 colour conversions even under the training loop's bf16 autocast.
        with torch.no_grad(), torch.autocast(device_type=lightness.device.type, enabled=False):
            rgb = lab_to_rgb(torch.cat((lightness, ab), dim=1).float())
            hue, chroma = rgb_to_hue_chroma(rgb)
            gray = rgb.mean(dim=1)
            if self.lightness_weighted_chroma:
                chroma_weight = chroma_loss_weight(gray)
            else:
                chroma_weight = torch.ones_like(gray)
            hue_bins = quantise(hue[:, 0], NUM_HUE_BINS)
            chroma_bins = quantise(chroma[:, 0], NUM_CHROMA_BINS)
            return hue_bins, chroma_bins, chroma[:, 0], chroma_weight

    def _combine(self, kl_h: torch.Tensor, kl_c: torch.Tensor, w_h: torch.Tensor,
                 w_c: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        hue_term = (w_h * kl_h).mean()
        chroma_term = (w_c * kl_c).mean()
        loss = self.hue_weight * hue_term + self.chroma_weight * chroma_term
        metrics = {
            "loss": float(loss.detach()),
            "hue_term": float(hue_term.detach()),
            "chroma_term": float(chroma_term.detach()),
            "kl_hue": float(kl_h.detach().mean()),
            "kl_chroma": float(kl_c.detach().mean()),
        }
        return loss, metrics

    # -- sparse and dense losses -------------------------------------------------------------
    def loss_at(
        self, model: nn.Module, lightness: torch.Tensor, ab: torch.Tensor, points: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss at given locations ``points`` ``(N, K, 2)`` long ``(y, x)`` inside ``H x W``."""
        n, _, h, w = lightness.shape
        hue_bins, chroma_bins, w_h, w_c = self._targets(lightness, ab)
        padded = _pad_to_multiple(lightness)
        ph, pw = padded.shape[-2:]
        # Pixel centres as grid_sample coordinates over the padded input (x first).
        centres = 2 * points.double() + 1
        grid = torch.stack((centres[..., 1] / pw - 1, centres[..., 0] / ph - 1), dim=-1)
        logits = model(padded, points=grid.to(padded.dtype)).float()  # (N, 64, K)
        target_h = window_histograms(hue_bins, points, self.window, NUM_HUE_BINS)
        target_c = window_histograms(chroma_bins, points, self.window, NUM_CHROMA_BINS)
        kl_h = kl_divergence(target_h, logits[:, :NUM_HUE_BINS].transpose(1, 2), dim=2)
        kl_c = kl_divergence(target_c, logits[:, NUM_HUE_BINS:].transpose(1, 2), dim=2)
        flat = points[..., 0] * w + points[..., 1]
        return self._combine(kl_h, kl_c, w_h.flatten(1).gather(1, flat), w_c.flatten(1).gather(1, flat))

    def loss_dense(
        self, model: nn.Module, lightness: torch.Tensor, ab: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The same loss at every pixel (full-resolution features; memory heavy)."""
        h, w = lightness.shape[-2:]
        hue_bins, chroma_bins, w_h, w_c = self._targets(lightness, ab)
        logits = model(_pad_to_multiple(lightness), full_resolution=True).float()[..., :h, :w]
        target_h = dense_window_histograms(hue_bins, self.window, NUM_HUE_BINS)
        target_c = dense_window_histograms(chroma_bins, self.window, NUM_CHROMA_BINS)
        kl_h = kl_divergence(target_h, logits[:, :NUM_HUE_BINS], dim=1)
        kl_c = kl_divergence(target_c, logits[:, NUM_HUE_BINS:], dim=1)
        return self._combine(kl_h, kl_c, w_h, w_c)


def _pad_to_multiple(lightness: torch.Tensor) -> torch.Tensor:
    """Zero-pad (L* = 0, black, as the official canvas) bottom/right to multiples of 32."""
    h, w = lightness.shape[-2:]
    pad_h, pad_w = -h % SIZE_MULTIPLE, -w % SIZE_MULTIPLE
    return F.pad(lightness, (0, pad_w, 0, pad_h), value=0.0) if pad_h or pad_w else lightness
