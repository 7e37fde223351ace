"""Raster-order sampling of PIC's chroma, naive and cached, and the ``"ab_mixture"`` decoder.

Both samplers compute the embedding ``g(L)`` once, then generate the ``h x w`` chroma pixels in
raster order, each drawn from the discretized logistic mixture at that pixel given the pixels
before it (:func:`autocolor.decode.logistic_mixture.sample`) and written back into the RGB canvas
that the PixelCNN reads.

- :func:`sample_naive` runs the whole PixelCNN++ once per pixel (``h * w`` full passes; what the
  official sampler does).
- :func:`sample_cached` computes each activation once (the Fast PixelCNN++ idea of caching what
  does not change between steps): at the start of row ``i`` the row-causal ``u`` stream, the
  ``ul`` stream's row-level inputs and its conditioning terms are computed for the whole row
  (they depend only on rows ``< i`` and the cached embedding); at each pixel only the ``ul``
  stream's 3x3 windows at that pixel are evaluated, reading cached activations of earlier
  pixels. The arithmetic adds up to about one full pass instead of ``h * w``; on small
  networks the per-pixel Python overhead (well under a millisecond) dominates.

Both draw the same random numbers in the same order, so with equal generator states they give
the same sample (up to float summation order in the convolutions, which can only matter when a
draw lands within ~1e-6 of a level boundary).

Several samples of one photo are drawn as one batch by giving a sequence of generators, one per
sample: the photo's embedding is computed once, the network steps run on all rows together, and
row ``r`` takes its random numbers from its own generator in exactly the calls a lone draw makes,
so it is the sample that generator draws alone (the per-pixel steps cost about the same for 8
rows as for 1, so 8 samples take about twice the time of one instead of 8 times).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from autocolor.decode import DecodeOptions, register_decoder, register_likelihood
from autocolor.decode.logistic_mixture import Generators, log_prob, per_row, quantize
from autocolor.decode.logistic_mixture import sample as sample_mixture
from autocolor.errors import UsageError
from autocolor.models.pic import PicNet, denormalize_ab, normalize_ab
from autocolor.models.pixelcnn_layers import GatedResnet, WNConv2d, concat_elu

#: ``DecodeOptions.extra`` key of the mixture temperature (see :func:`mixture_temperature_of`).
MIXTURE_TEMPERATURE = "mixture_temperature"
#: Precision of the PixelCNN steps and the draws. CPU matrix products and some elementwise
#: kernels round a row differently in a batch of 8 than alone (blocking, vector lanes): in
#: float32 that moved about one draw in 10^4 of a sample to the next level, so samples drawn
#: together were not quite the samples drawn alone. In float64 the difference is ~1e-16, far
#: below anything a draw can resolve. The embedding g(L) stays float32 (computed once).
STEP_DTYPE = torch.float64


@contextmanager
def _eval_mode(net: PicNet) -> Iterator[None]:
    # Dropout would make every pass (and the two samplers) disagree; sampling during training
    # (e.g. for validation images) must not leave the network in eval mode either.
    was_training = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(was_training)


@contextmanager
def _one_thread() -> Iterator[None]:
    # The raster loop's operations are a few thousand numbers each: more threads only add a
    # synchronisation per operation, and on a busy machine one descheduled thread stalls every
    # step (measured: 2 threads took 10-40x longer than 1 on the shared 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _start(
    net: PicNet, lightness: torch.Tensor, generator: Generators
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Embedding ``(N or 1, E, h, w)``, chroma-resolution normalised L ``(R, 1, h, w)`` and the
    empty canvas ``(R, 4, h, w)``, ``R`` rows to draw: ``N``, or one per generator when a single
    photo (``N = 1``) is drawn with a sequence of generators (its embedding is computed once)."""
    embedding = net.embed(lightness).to(STEP_DTYPE)
    lum = net.chroma_lightness(lightness).to(STEP_DTYPE)
    n = lum.shape[0]
    rows = n if generator is None or isinstance(generator, torch.Generator) or n != 1 else len(generator)
    per_row(generator, rows)  # a sequence of another length is a bug
    lum = lum.expand(rows, -1, -1, -1)
    canvas = torch.zeros_like(lum).repeat(1, 4, 1, 1)
    canvas[:, 3] = 1.0  # the ones channel; RGB of pixels not yet generated stays 0
    return embedding, lum, canvas


def _draw_pixel(
    net: PicNet,
    params: torch.Tensor,
    lum: torch.Tensor,
    canvas: torch.Tensor,
    ab: torch.Tensor,
    i: int,
    j: int,
    temperatures: tuple[float, float],
    generator: Generators,
) -> None:
    """Sample pixel ``(i, j)`` from ``params`` ``(N, 8K, 1, 1)``; write it to ``ab`` and ``canvas``.

    ``temperatures`` is ``(temperature, mixture_temperature)`` of the mixture sampler."""
    lum_ij = lum[:, :, i : i + 1, j : j + 1]
    x = sample_mixture(
        params, lum_ij, temperature=temperatures[0], mixture_temperature=temperatures[1], generator=generator
    )
    ab[:, :, i : i + 1, j : j + 1] = x
    canvas[:, :3, i : i + 1, j : j + 1] = net.canvas_rgb(lum_ij, x)


@torch.no_grad()
def sample_naive(
    net: PicNet,
    lightness: torch.Tensor,
    *,
    temperature: float = 1.0,
    mixture_temperature: float = 1.0,
    generator: Generators = None,
) -> torch.Tensor:
    """One sample per image by ``h * w`` full PixelCNN passes.

    Args:
        net: a :class:`PicNet`; it runs in eval mode (no dropout) and its mode is restored.
        lightness: ``(N, 1, H, W)`` L* in ``[0, 100]``.
        temperature: see :func:`autocolor.decode.logistic_mixture.sample` (0: mode).
        mixture_temperature: divides the mixture logits (same function; 1: the official sampler).
        generator: random source; a seeded one makes the sample repeatable. A sequence of
            ``R`` generators draws row ``r`` from the ``r``-th, exactly as that generator draws a
            batch of one, so each row is the sample its seed gives alone; with ``N = 1`` it draws
            ``R`` samples of the one photo (its embedding computed once), else ``R`` must be ``N``.

    Returns:
        ``(R, 2, H/d, W/d)`` ab in Lab units (integer levels); ``R = N`` for a single generator.
    """
    temperatures = (temperature, mixture_temperature)
    with _eval_mode(net):
        embedding, lum, canvas = _start(net, lightness, generator)
        n, _, h, w = lum.shape
        ab = lum.new_zeros((n, 2, h, w))
        embedding = embedding.expand(n, -1, -1, -1)
        pixelcnn = copy.deepcopy(net.pixelcnn).to(STEP_DTYPE)  # the cached sampler's precision
        for i in range(h):
            for j in range(w):
                params = pixelcnn(canvas, embedding)[:, :, i : i + 1, j : j + 1]
                _draw_pixel(net, params, lum, canvas, ab, i, j, temperatures, generator)
    return denormalize_ab(ab).float()


def _rows(x: torch.Tensor, last: int, count: int, side: tuple[int, int]) -> torch.Tensor:
    """Rows ``last - count + 1 .. last`` of ``x`` (zeros above row 0), padded ``side`` columns."""
    first = last - count + 1
    strip = x[:, :, max(first, 0) : last + 1]
    return F.pad(strip, (side[0], side[1], max(-first, 0), 0))


class _Weights:
    """Effective (weight-normalised) kernels of one conv in :data:`STEP_DTYPE`, computed once
    per sample."""

    def __init__(self, conv: WNConv2d) -> None:
        self.conv = conv
        self.weight = conv.weight().to(STEP_DTYPE)
        self.bias = conv.bias.to(STEP_DTYPE)
        self.flat = self.weight.reshape(self.weight.shape[0], -1)
        # The same kernel for windows stored channels-last, (kh, kw, C) per output.
        self.flat_hwc = self.weight.permute(0, 2, 3, 1).reshape(self.weight.shape[0], -1)

    def __call__(self, padded: torch.Tensor) -> torch.Tensor:
        return F.conv2d(padded, self.weight, self.bias, stride=self.conv.stride, dilation=self.conv.dilation)

    def window(self, window: torch.Tensor) -> torch.Tensor:
        """The output at one pixel from its ``(N, C, kh, kw)`` input window: ``(N, out, 1, 1)``.

        A matrix product instead of a conv call: the per-pixel steps are dominated by call
        overhead, and ``linear`` has less of it.
        """
        n = window.shape[0]
        return F.linear(window.reshape(n, -1), self.flat, self.bias).view(n, -1, 1, 1)

    def window_hwc(self, window: torch.Tensor) -> torch.Tensor:
        """:meth:`window` of a channels-last ``(N, kh, kw, C)`` window: ``(N, out, 1, 1)``."""
        n = window.shape[0]
        return F.linear(window.reshape(n, -1), self.flat_hwc, self.bias).view(n, -1, 1, 1)


class _Block:
    def __init__(self, block: GatedResnet) -> None:
        self.block = block
        self.conv1 = _Weights(block.conv1)
        self.conv2 = _Weights(block.conv2)
        assert block.conv_aux is not None
        self.conv_aux = _Weights(block.conv_aux)


class _CachedState:
    """Activation caches of one sampling run (all ``(N, C, ...)``; see :func:`sample_cached`).

    ``embedding`` may have one row for all ``N`` (samples of one photo): its terms are computed
    once and broadcast."""

    def __init__(self, net: PicNet, embedding: torch.Tensor, canvas: torch.Tensor) -> None:
        pcnn = net.pixelcnn
        n, _, h, w = canvas.shape
        c = net.config.channels
        self.canvas, self.embedding, self.width = canvas, embedding, w
        self.conv_down = _Weights(pcnn.conv_down)
        self.conv_down_2 = _Weights(pcnn.conv_down_2)
        self.conv_down_right = _Weights(pcnn.conv_down_right)
        self.conv_last = _Weights(pcnn.conv_last)
        self.u_blocks = [_Block(pcnn.u_block(k)) for k in range(pcnn.blocks)]
        self.ul_blocks = [_Block(pcnn.ul_block(k)) for k in range(pcnn.blocks)]
        # u stream: the conditioning term of every row is known up front.
        emb_act = concat_elu(embedding)
        self.u_aux = [blk.conv_aux(emb_act) for blk in self.u_blocks]
        zeros = canvas.new_zeros
        self.u_in = [zeros((n, 2 * c, h, w)) for _ in self.u_blocks]  # concat_elu(u_k)
        self.u_mid = [zeros((n, 2 * c, h, w)) for _ in self.u_blocks]  # concat_elu(c1)
        # ul stream, padded 2 rows on top and 2 columns on the left for the 3x3 causal windows;
        # channels-last, so that a window is 3 contiguous runs to gather, not 3 * 3 * C values.
        self.ul_in = [zeros((n, h + 2, w + 2, 2 * c)) for _ in self.ul_blocks]
        self.ul_mid = [zeros((n, h + 2, w + 2, 2 * c)) for _ in self.ul_blocks]
        self.ul_aux: list[torch.Tensor] = []
        self.ul_down = zeros((n, c, 1, w))

    def start_row(self, i: int) -> None:
        """Everything of row ``i`` that depends only on rows above: u stream, ul inputs."""
        canvas, w = self.canvas, self.width
        if i == 0:  # down_shift: row 0 sees nothing
            u = canvas.new_zeros((canvas.shape[0], self.ul_down.shape[1], 1, w))
            self.ul_down = torch.zeros_like(u)
        else:
            u = self.conv_down(_rows(canvas, i - 1, 2, (1, 1)))
            self.ul_down = self.conv_down_2(_rows(canvas, i - 1, 1, (1, 1)))
        emb_row = self.embedding[:, :, i : i + 1].expand(canvas.shape[0], -1, -1, -1)
        self.ul_aux = []
        for k, blk in enumerate(self.u_blocks):
            self.u_in[k][:, :, i : i + 1] = concat_elu(u)
            c1 = blk.conv1(_rows(self.u_in[k], i, 3, (1, 1))) + self.u_aux[k][:, :, i : i + 1]
            self.u_mid[k][:, :, i : i + 1] = concat_elu(c1)
            u = u + blk.block.gate(blk.conv2(_rows(self.u_mid[k], i, 3, (1, 1))))
            aux_in = concat_elu(torch.cat((u, emb_row), dim=1))
            self.ul_aux.append(self.ul_blocks[k].conv_aux(aux_in))

    def pixel_params(self, i: int, j: int) -> torch.Tensor:
        """Mixture parameters ``(N, 8K, 1, 1)`` at ``(i, j)``; pixels before it must be drawn."""
        ul = self.ul_down[:, :, :, j : j + 1]
        if j > 0:  # right_shift: column 0 sees nothing of its own row
            ul = ul + self.conv_down_right.window(_rows(self.canvas[:, :, :, j - 1 : j], i, 2, (0, 0)))
        n = ul.shape[0]
        for k, blk in enumerate(self.ul_blocks):
            self.ul_in[k][:, i + 2, j + 2] = concat_elu(ul).view(n, -1)
            c1 = blk.conv1.window_hwc(self.ul_in[k][:, i : i + 3, j : j + 3])
            c1 = c1 + self.ul_aux[k][:, :, :, j : j + 1]
            self.ul_mid[k][:, i + 2, j + 2] = concat_elu(c1).view(n, -1)
            ul = ul + blk.block.gate(blk.conv2.window_hwc(self.ul_mid[k][:, i : i + 3, j : j + 3]))
        return self.conv_last.window(F.elu(ul))


@torch.no_grad()
def sample_cached(
    net: PicNet,
    lightness: torch.Tensor,
    *,
    temperature: float = 1.0,
    mixture_temperature: float = 1.0,
    generator: Generators = None,
) -> torch.Tensor:
    """Same contract and same samples as :func:`sample_naive`, at about one pass's arithmetic."""
    temperatures = (temperature, mixture_temperature)
    with _eval_mode(net):
        embedding, lum, canvas = _start(net, lightness, generator)
        n, _, h, w = lum.shape
        ab = lum.new_zeros((n, 2, h, w))
        state = _CachedState(net, embedding, canvas)
        with _one_thread():
            for i in range(h):
                state.start_row(i)
                for j in range(w):
                    params = state.pixel_params(i, j)
                    _draw_pixel(net, params, lum, canvas, ab, i, j, temperatures, generator)
    return denormalize_ab(ab).float()


def _pic_net(net: torch.nn.Module) -> PicNet:
    if not isinstance(net, PicNet):
        raise TypeError(f"'ab_mixture' decoding needs a PicNet, got {type(net).__name__}")
    return net


def mixture_temperature_of(extra: Mapping[str, Any]) -> float:
    """``extra[MIXTURE_TEMPERATURE]`` (default 1, the official sampler); :class:`UsageError`
    unless it is a number > 0."""
    value = extra.get(MIXTURE_TEMPERATURE, 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UsageError(f"mixture temperature must be a number > 0, got {value!r}")
    return float(value)


@register_decoder("ab_mixture", methods=("sample", "mode"), per_sample_generators=True)
def _decode_ab_mixture(
    net: torch.nn.Module, lightness: torch.Tensor, options: DecodeOptions
) -> torch.Tensor:
    # "mode" is the temperature-0 sample: the most probable component's mean at every step.
    temperature = 0.0 if options.method == "mode" else options.temperature
    return sample_cached(
        _pic_net(net), lightness.float(), temperature=temperature,
        mixture_temperature=mixture_temperature_of(options.extra), generator=options.generator,
    )  # fmt: skip


def chroma_targets(net: PicNet, ab: torch.Tensor) -> torch.Tensor:
    """Ground truth ``(N, 2, H, W)`` Lab -> the levels PIC scores, ``(N, 2, H/d, W/d)`` in ``[-1, 1]``.

    ab is brought to the chroma resolution with the network's own pooling, normalised and
    rounded to the mixture's 256 levels, so the likelihood is an exact discrete probability.
    """
    return quantize(normalize_ab(net.pool_chroma(ab)))


@register_likelihood("ab_mixture")
def _mixture_nll(net: torch.nn.Module, lightness: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, int]:
    # lightness (1, 1, H, W) with ab (S, 2, H, W): S chroma of one photo (its samples), scored
    # with its embedding computed once, then one batch-of-one pass each, so that a sample's
    # score is the one it gets alone, bit for bit, whatever was drawn with it.
    assert isinstance(net, PicNet)
    target = chroma_targets(net, ab.float())
    if lightness.shape[0] == 1 and target.shape[0] > 1:
        embedding, lum = net.embed(lightness), net.chroma_lightness(lightness)
        scored = [_scored(net, embedding, lum, target[r : r + 1]) for r in range(target.shape[0])]
        return torch.cat([nats for nats, _ in scored]), scored[0][1]
    return _scored(net, net.embed(lightness), net.chroma_lightness(lightness), target)


def _scored(net: PicNet, embedding: torch.Tensor, lum: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, int]:
    params = net.teacher_forced(embedding, lum, denormalize_ab(target))  # teacher forcing with the scored levels
    lp = log_prob(params.float(), target, lum)
    return -lp.sum(dim=(-2, -1)), 2 * lp.shape[-2] * lp.shape[-1]
