"""GCP (Wu et al., ICCV 2021): colorization with a generative colour prior (BigGAN-256).

Registers ``gcp.imagenet`` (the official networks: the layouts of ``colorization_model.pth``,
``biggan_E.pth``, ``biggan_G_ema_256.pth``, ``biggan_D_256.pth`` and
``deformator_for_biggan.pt``; 311 M parameters, 1.24 GB in fp32) and ``gcp.tiny`` (the same
code at 64 px with a few channels, for tests). Their output kind is ``"gcp"``; decoding (class choice,
diversity) is in :mod:`autocolor.decode.gcp`.

Modules: :mod:`.layers` (BigGAN SN layers), :mod:`.biggan` (G), :mod:`.discriminator` (D),
:mod:`.encoder` (E), :mod:`.corr` (``net_corr``), :mod:`.spade` (``net_gen``), :mod:`.deform`
(deformable conv), :mod:`.deformator` (latent directions), :mod:`.gcp` (the composite),
:mod:`.choose` (automatic class choice), :mod:`.classes` (ImageNet names).
"""

from __future__ import annotations

from autocolor.models.gcp.gcp import OFFICIAL, TINY, GCPColorizer, GCPConfig, Prior
from autocolor.models.registry import register_model

__all__ = ["GCPColorizer", "GCPConfig", "OFFICIAL", "Prior", "TINY", "gcp_imagenet", "gcp_tiny"]


@register_model("gcp.imagenet", output_kind="gcp", input_size=256, decoding="gcp")
def gcp_imagenet() -> GCPColorizer:
    """GCP colorizer with BigGAN-256 prior (official layout); needs an ImageNet class per image."""
    return GCPColorizer(OFFICIAL)


@register_model("gcp.tiny", output_kind="gcp", input_size=64, decoding="gcp", tiny=True)
def gcp_tiny() -> GCPColorizer:
    """GCP code path at 64 px with a few channels (random weights, tests only)."""
    return GCPColorizer(TINY)
