"""Automatic choice of the ImageNet class that GCP's prior is rendered for.

The official code asks a large ImageNet classifier (BEiT-L via timm) for the class. Without an
extra download the GCP networks themselves can answer, in two stages:

1. **Discriminator projection.** BigGAN's D is a projection discriminator:
   ``D(x, c) = psi(h(x)) + <e_c, h(x)>``. The class-dependent term ranks all 1000 classes by how
   well the image's deep features ``h(x)`` match each class embedding ``e_c``, i.e. D's
   implicit classifier (one D pass for all classes). D was trained on colour images, so on a
   gray picture the ranking is a shortlist, not a verdict.
2. **Inversion check over the shortlist.** For each of the top ``k`` classes the encoder
   inverts the gray image (``z = E(x, c)``) and BigGAN renders ``G(z, c)``; the class whose
   rendering reproduces the input's lightness layout best (smallest mean absolute L* error at
   an eighth of the resolution) wins. This is the criterion E was trained for (reconstruction),
   and a class whose prior cannot reproduce the scene would warp wrong colours onto it. The
   winner's latent and rendering are kept, so the extra cost is ``k - 1`` encoder+generator
   passes (``k = 1`` skips stage 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from autocolor.models.gcp.gcp import GCPColorizer, Prior

__all__ = ["ClassChoice", "DEFAULT_CANDIDATES", "choose_classes"]

#: Shortlist size of stage 2 (each extra candidate costs one E + G pass).
DEFAULT_CANDIDATES = 3


@dataclass
class ClassChoice:
    """Outcome per image: ``class_ids`` ``(N,)`` chosen; ``candidates`` ``(N, k)`` the shortlist
    (best projection first), ``scores`` their projection scores, ``errors`` their reconstruction
    errors (L* units; zeros when ``k = 1``); ``prior`` the rendering of the chosen classes."""

    class_ids: torch.Tensor
    candidates: torch.Tensor
    scores: torch.Tensor
    errors: torch.Tensor
    prior: Prior


@torch.no_grad()
def choose_classes(net: GCPColorizer, lightness: torch.Tensor, candidates: int = DEFAULT_CANDIDATES) -> ClassChoice:
    """Pick a class for each image of ``lightness`` ``(N, 1, H, W)`` (L* in ``[0, 100]``).

    Raises:
        ValueError: ``candidates`` < 1.
    """
    if candidates < 1:
        raise ValueError(f"the class shortlist needs at least 1 candidate, got {candidates}")
    all_scores = net.class_scores(lightness)
    k = min(candidates, all_scores.shape[1])
    scores, shortlist = all_scores.topk(k, dim=1)
    priors: list[Prior] = []
    errors = torch.zeros_like(scores)
    for j in range(k):
        ids = shortlist[:, j]
        prior = net.generate(net.invert(lightness, ids), ids)
        if k > 1:
            errors[:, j] = net.reconstruction_error(lightness, prior)
        priors.append(prior)
    best = errors.argmin(dim=1)  # ties (k = 1: all zero) go to the best projection score
    rows = torch.arange(len(best), device=best.device)
    chosen = _pick(priors, best)
    return ClassChoice(shortlist[rows, best], shortlist, scores, errors, chosen)


def _pick(priors: list[Prior], best: torch.Tensor) -> Prior:
    """Per sample ``i``, the entry ``i`` of ``priors[best[i]]``."""
    if len(priors) == 1:
        return priors[0]
    index = best.to(priors[0].z.device)

    def gather(tensors: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(tensors, dim=1)  # (N, k, ...)
        return stacked[torch.arange(len(index), device=index.device), index]

    return Prior(
        gather([p.z for p in priors]),
        gather([p.class_ids for p in priors]),
        gather([p.image for p in priors]),
        tuple(gather([p.features[i] for p in priors]) for i in range(3)),  # type: ignore[arg-type]
    )
