"""The GCP colorizer (Wu et al., ICCV 2021): the composite of GCP's five official networks.

Submodules are named after the official objects, so the state_dict is the union of the
official files with these prefixes: ``net_corr.*`` and ``net_gen.*`` (``colorization_model.pth``
keys ``"net_corr"`` / ``"net_gen"``), ``biggan_enc.*`` (``biggan_E.pth``), ``biggan_gen.*``
(``biggan_G_ema_256.pth``), ``biggan_dis.*`` (``biggan_D_256.pth``), ``deformator.*``
(``deformator_for_biggan.pt``).

Colorizing one gray image (what ``RefBasedModel.generate_fake`` does, device-agnostic):

1. ``x = L / 50 - 1``; the encoder inverts it for the class: ``z = E(x, E.shared(c))`` (+ an
   optional latent shift for diversity).
2. BigGAN renders the prior: ``image, feats = G(z, G.shared(c))`` (feats at 64, 128, 256 px).
3. The discriminator's shallow features of ``x`` and of ``image`` are matched by ``net_corr``,
   which warps ``feats`` onto ``x``'s layout.
4. ``net_gen`` predicts ``ab / 110`` from ``x`` and the warped features (tanh).

The BigGAN networks and the deformator are frozen priors (no gradients, always in eval mode, as
in the official code); only ``net_corr`` and ``net_gen`` are trainable. Any input side that is a
multiple of 8 works: the encoder sees L resized to the prior's resolution, and the
correspondence grid follows the input (the official setting is 256 px everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.color.lab import lab_to_rgb, rgb_to_lab
from autocolor.models.gcp.biggan import Generator
from autocolor.models.gcp.corr import CorrespondenceNet
from autocolor.models.gcp.deformator import LatentDeformator
from autocolor.models.gcp.discriminator import Discriminator
from autocolor.models.gcp.encoder import Encoder
from autocolor.models.gcp.spade import ColorGenerator

__all__ = ["AB_SCALE", "OFFICIAL", "TINY", "GCPColorizer", "GCPConfig", "Prior"]

AB_SCALE = 110.0  # net_gen predicts ab / 110 through tanh


@dataclass(frozen=True)
class GCPConfig:
    """Sizes of the GCP networks; :data:`OFFICIAL` matches the released files.

    ``attention`` is the resolution with self-attention in G, D and E; ``temperature`` the
    correlation softmax temperature; ``ngf``/``n_res`` size ``net_gen``.
    """

    resolution: int = 256
    n_classes: int = 1000
    dim_z: int = 120
    shared_dim: int = 128
    g_ch: int = 96
    d_ch: int = 96
    e_ch: int = 64
    attention: int = 64
    nonlocal_nc: int = 128
    ngf: int = 64
    n_res: int = 6
    temperature: float = 0.01


OFFICIAL = GCPConfig()
#: Same code path, official architecture tables at 64 px, a few channels: for tests.
TINY = GCPConfig(resolution=64, n_classes=10, dim_z=20, shared_dim=8, g_ch=8, d_ch=8, e_ch=8,
                 attention=16, nonlocal_nc=8, ngf=4, n_res=2)  # fmt: skip


@dataclass
class Prior:
    """What BigGAN produced for a batch: latents, classes, RGB image in ``[-1, 1]`` ``(N, 3, R, R)``
    and features at ``R/4``, ``R/2``, ``R`` (in that order)."""

    z: torch.Tensor
    class_ids: torch.Tensor
    image: torch.Tensor
    features: tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class GCPColorizer(nn.Module):
    """GCP: L* ``(N, 1, H, W)`` in ``[0, 100]`` + ImageNet class -> ab ``(N, 2, H, W)`` in Lab units.

    ``forward(lightness, class_ids, z_shift=None, prior=None)`` runs the whole method; the
    decoder (``autocolor.decode.gcp``) uses the steps :meth:`class_scores`, :meth:`invert`,
    :meth:`generate` and :meth:`colorize` to choose classes and add diversity.
    """

    output_kind: ClassVar[str] = "gcp"
    size_multiple: ClassVar[int] = 8

    def __init__(self, config: GCPConfig = OFFICIAL) -> None:
        super().__init__()
        c = self.config = config
        gen = Generator(c.resolution, c.g_ch, c.dim_z, c.shared_dim, c.n_classes, c.attention)
        dis = Discriminator(c.resolution, c.d_ch, c.n_classes, c.attention)
        # Registration order: the trainable networks first (they own the first parameters).
        self.net_corr = CorrespondenceNet(dis.feature_channels, c.nonlocal_nc, c.temperature)
        self.net_gen = ColorGenerator(gen.feature_channels, c.ngf, c.n_res)
        self.biggan_enc = Encoder(c.resolution, c.e_ch, c.dim_z, c.shared_dim, c.n_classes, c.attention)
        self.biggan_gen = gen
        self.biggan_dis = dis
        self.deformator = LatentDeformator(gen.dim_z)
        for prior in self.priors():
            prior.requires_grad_(False)
        self.train(False)

    def priors(self) -> tuple[nn.Module, ...]:
        """The frozen networks: encoder, generator, discriminator, deformator."""
        return (self.biggan_enc, self.biggan_gen, self.biggan_dis, self.deformator)

    def train(self, mode: bool = True) -> GCPColorizer:
        """Switch ``net_corr``/``net_gen``; the priors stay in eval mode (their SN and BN
        buffers never change)."""
        super().train(mode)
        for prior in self.priors():
            prior.train(False)
        return self

    @property
    def latent_dim(self) -> int:
        """Size of z as the encoder produces it (120 for the official nets)."""
        return self.biggan_enc.linear.out_features

    # -- steps -------------------------------------------------------------------------------

    @staticmethod
    def normalize(lightness: torch.Tensor) -> torch.Tensor:
        """L* ``[0, 100]`` -> ``[-1, 1]``, GCP's input scale (``x_l``)."""
        return lightness / 50.0 - 1.0

    def _at_prior_size(self, lightness: torch.Tensor) -> torch.Tensor:
        size = self.config.resolution
        if tuple(lightness.shape[-2:]) == (size, size):
            return lightness
        return F.interpolate(lightness, size=(size, size), mode="bilinear", align_corners=False, antialias=True)

    def check_classes(self, class_ids: torch.Tensor) -> torch.Tensor:
        """``(N,)`` long class ids on the model's device; raises ValueError when out of range."""
        if class_ids.numel() and not (0 <= int(class_ids.min()) and int(class_ids.max()) < self.config.n_classes):
            raise ValueError(f"class ids must be in [0, {self.config.n_classes}), got {class_ids.tolist()}")
        return class_ids.long().to(self.biggan_gen.shared.weight.device)

    @torch.no_grad()
    def class_scores(self, lightness: torch.Tensor) -> torch.Tensor:
        """Discriminator projection score of every class for the gray image: ``(N, n_classes)``.

        D sees the image as an sRGB gray picture (``R = G = B``, in ``[-1, 1]``) at the prior's
        resolution; see :meth:`Discriminator.class_scores`.
        """
        small = self._at_prior_size(lightness.float())
        zeros = torch.zeros_like(small)
        with torch.autocast(device_type=small.device.type, enabled=False):  # colour maths in fp32
            gray = lab_to_rgb(torch.cat((small, zeros, zeros), dim=1)) * 2 - 1
        return self.biggan_dis.class_scores(gray).float()

    @torch.no_grad()
    def invert(self, lightness: torch.Tensor, class_ids: torch.Tensor) -> torch.Tensor:
        """GAN inversion ``z = E(L / 50 - 1, class)``: ``(N, latent_dim)``."""
        ids = self.check_classes(class_ids)
        x = self.normalize(self._at_prior_size(lightness))
        return self.biggan_enc(x, self.biggan_enc.shared(ids)).float()

    @torch.no_grad()
    def generate(self, z: torch.Tensor, class_ids: torch.Tensor) -> Prior:
        """Render BigGAN's image and features for latents ``z`` ``(N, latent_dim)`` and classes."""
        ids = self.check_classes(class_ids)
        image, feats = self.biggan_gen(z, self.biggan_gen.shared(ids))
        r = self.config.resolution
        return Prior(z, ids, image, (feats[r // 4], feats[r // 2], feats[r]))

    @torch.no_grad()
    def reconstruction_error(self, lightness: torch.Tensor, prior: Prior) -> torch.Tensor:
        """Mean absolute L* difference between the input and the prior image, per sample ``(N,)``.

        Both are compared at 32x32 pixels (an eighth of 256), so that the score measures
        layout and shading rather than texture.
        """
        target = self._at_prior_size(lightness.float())
        pool = max(1, self.config.resolution // 32)
        with torch.autocast(device_type=target.device.type, enabled=False):
            generated = rgb_to_lab(((prior.image.float() + 1) / 2).clamp(0, 1))[:, :1]
            return (F.avg_pool2d(generated, pool) - F.avg_pool2d(target, pool)).abs().mean(dim=(1, 2, 3))

    def colorize(self, lightness: torch.Tensor, prior: Prior) -> torch.Tensor:
        """``net_corr`` + ``net_gen`` with a rendered prior: ab ``(N, 2, H, W)`` in Lab units."""
        x = self.normalize(lightness)
        with torch.no_grad():
            query = self.biggan_dis.features(x)
            reference = self.biggan_dis.features(prior.image)
        warped = self.net_corr(query, reference, prior.features)
        return self.net_gen(x, warped).float() * AB_SCALE

    def forward(
        self,
        lightness: torch.Tensor,
        class_ids: torch.Tensor,
        z_shift: torch.Tensor | None = None,
        prior: Prior | None = None,
    ) -> torch.Tensor:
        """Colorize ``lightness`` ``(N, 1, H, W)`` (``H``, ``W`` multiples of 8) for ``class_ids`` ``(N,)``.

        ``z_shift`` ``(N, latent_dim)`` or ``(latent_dim,)`` moves the inverted latent; a given
        ``prior`` skips inversion and rendering. Returns ab ``(N, 2, H, W)`` in ``[-110, 110]``.
        """
        if prior is None:
            z = self.invert(lightness, class_ids)
            if z_shift is not None:
                z = z + z_shift.to(z)
            prior = self.generate(z, class_ids)
        return self.colorize(lightness, prior)

    def example_inputs(self, lightness: torch.Tensor) -> tuple[object, ...]:
        """Inputs for the registry's smoke test: class 0 and a small random prior whose grid
        follows ``lightness`` (so that full-size networks are exercised without a 256 px BigGAN
        pass; :meth:`generate` is tested on its own)."""
        n, _, h, w = lightness.shape
        gen = torch.Generator().manual_seed(0)
        channels = self.biggan_gen.feature_channels
        feats = tuple(torch.randn(n, c, h * s // 4, w * s // 4, generator=gen) for c, s in zip(channels, (1, 2, 4)))
        image = torch.rand(n, 3, h, w, generator=gen) * 2 - 1
        ids = torch.zeros(n, dtype=torch.long)
        return lightness, ids, None, Prior(torch.zeros(n, self.latent_dim), ids, image, feats)  # type: ignore[arg-type]
