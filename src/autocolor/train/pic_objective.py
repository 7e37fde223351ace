"""The PIC objective: negative log-likelihood of the chroma in bits per dimension.

The target is the ground-truth ab at the network's chroma resolution (the paper's "sample at one
quarter of the resolution"), normalised to ``[-1, 1]`` and rounded to the mixture's 256 levels
so that the loss is an exact discrete likelihood. The PixelCNN is teacher-forced with that
same target. As in the official training, the CNN-only ablation (the embedding's first
``8 * nr_mix`` channels read as a mixture) is trained jointly: the loss is
``bpd + embedding_weight * bpd_embedding``.
"""

from __future__ import annotations

import torch
from torch import nn

from autocolor.decode.autoregressive import chroma_targets
from autocolor.decode.logistic_mixture import bits_per_dim, quantize
from autocolor.models.pic import PicNet, denormalize_ab, normalize_ab


def _unwrap(model: nn.Module) -> PicNet:
    # DistributedDataParallel (and similar wrappers) keep the network in ``.module``.
    net = getattr(model, "module", model)
    if not isinstance(net, PicNet):
        raise TypeError(f"PicObjective needs a PicNet, got {type(net).__name__}")
    return net


class PicObjective:
    """Callable ``(model, lightness (N,1,H,W) L*, ab (N,2,H,W) Lab) -> (loss, metrics)``.

    Args:
        embedding_weight: weight of the CNN-only term (official: 1; 0 trains PIC alone).
        pooling: how ab reaches the chroma resolution: ``"area"`` (average each ``d x d``
            block), ``"subsample"`` (top-left pixel, what the official TF1 code did) or ``None``
            (default): the network's own pooling, the one that brings L to the chroma
            resolution (``"area"`` for ``pic.small`` / ``pic.tiny``, ``"subsample"`` for
            ``pic.imagenet``).

    The loss is a scalar (mean over the batch of bits/dim); metrics are floats: ``bpd`` (PIC),
    ``bpd_embedding`` (CNN only) and ``loss``.
    """

    def __init__(self, embedding_weight: float = 1.0, pooling: str | None = None) -> None:
        if pooling not in (None, "area", "subsample"):
            raise ValueError(f"unknown pooling {pooling!r}")
        self.embedding_weight = embedding_weight
        self.pooling = pooling

    def targets(self, net: PicNet, ab: torch.Tensor) -> torch.Tensor:
        """Ground truth ``(N, 2, H, W)`` Lab -> levels ``(N, 2, H/d, W/d)`` in ``[-1, 1]``."""
        d = net.downsample
        if self.pooling is None:
            return chroma_targets(net, ab)
        small = nn.functional.avg_pool2d(ab, d) if self.pooling == "area" else ab[:, :, ::d, ::d]
        return quantize(normalize_ab(small))

    def __call__(
        self, model: nn.Module, lightness: torch.Tensor, ab: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        net = _unwrap(model)
        target = self.targets(net, ab.float())
        # Lab units of the quantised target: the teacher-forced canvas shows exactly the levels
        # whose likelihood is scored (and what the sampler would have drawn).
        target_lab = denormalize_ab(target)
        params, embedding_params = model(lightness, target_lab, with_embedding=True)
        lum = net.chroma_lightness(lightness)
        bpd = bits_per_dim(params.float(), target, lum).mean()
        bpd_embedding = bits_per_dim(embedding_params.float(), target, lum).mean()
        loss = bpd + self.embedding_weight * bpd_embedding
        metrics = {
            "loss": float(loss.detach()),
            "bpd": float(bpd.detach()),
            "bpd_embedding": float(bpd_embedding.detach()),
        }
        return loss, metrics
