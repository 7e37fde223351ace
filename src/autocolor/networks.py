"""A registered network ready for inference, and the L* it is given.

:func:`load_model` builds a network with its verified weights (BatchNorm folded, eval mode, on
its device); :func:`network_input_size` and :func:`resize_lightness` bring a photo's L* to what
the network sees. The pipeline (:mod:`autocolor.pipeline`) and the sampler build on these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autocolor.devices import resolve_device
from autocolor.models.fusion import fuse_conv_batchnorm
from autocolor.models.registry import create_model

#: Seed of the random initialisation used by ``pretrained=False`` (tests, debugging).
RANDOM_WEIGHTS_SEED = 0


def load_model(
    name: str,
    device: str | torch.device = "auto",
    *,
    pretrained: bool = True,
    offline: bool = False,
) -> nn.Module:
    """Build the registered network ``name`` with its verified weights, on ``device``, in eval mode.

    Args:
        name: registry name, e.g. ``"cic.eccv16"`` (:func:`autocolor.models.list_models`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        pretrained: ``False`` builds random weights, seeded with :data:`RANDOM_WEIGHTS_SEED`
            so that two calls give the same network. Meant for tests and debugging only: a
            random network produces meaningless colours.
        offline: never download; fail if the weights are not bundled or cached.

    Raises:
        UnknownModelError: ``name`` is not registered.
        WeightsError: the weights cannot be found, fetched, verified or loaded.
        DeviceError: ``device`` is not available.
    """
    target = resolve_device(device)
    if pretrained:
        net = create_model(name, pretrained=True, offline=offline)
    else:
        # fork_rng keeps the caller's global RNG stream untouched by the seeded init.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            net = create_model(name, pretrained=False)
    # Inference only from here on: fold BatchNorm into the convolutions (about 2x faster
    # for cic.lite on CPU, same outputs to float rounding).
    return fuse_conv_batchnorm(net.eval()).to(target)


def resize_lightness(lightness: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """``(N, 1, H, W)`` L* -> ``(N, 1, size, size)`` L*, aspect ignored (as CIC does).

    ``size`` may also be an explicit ``(height, width)``.

    Bicubic with antialiasing, which matches PIL's bicubic resize (what CIC used) when
    shrinking and is plain bicubic when enlarging; clamped back to ``[0, 100]`` because
    bicubic overshoots at edges.
    """
    target = (size, size) if isinstance(size, int) else size
    resized = F.interpolate(
        lightness.float(), size=target, mode="bicubic", align_corners=False, antialias=True
    )
    return resized.clamp_(0.0, 100.0)


def network_input_size(net: nn.Module, height: int, width: int, size: int) -> tuple[int, int]:
    """The ``(h, w)`` a photo's L* is resized to before ``net``.

    Square ``size`` x ``size`` (aspect ignored, as CIC does), unless the network declares
    ``preserves_aspect`` (Larsson: the decoder scales and pads itself), in which case the long
    side is shrunk to ``size`` with the aspect kept, and small photos are left as they are.
    """
    if not getattr(net, "preserves_aspect", False):
        return size, size
    scale = min(1.0, size / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))
