"""PIC raster-order samplers: naive == cached, seeds, temperature 0, batches of seeds, the registered decoder."""

from __future__ import annotations

import pytest
import torch

from autocolor.decode import DecodeOptions, draws_per_generator, negative_log_likelihood, predict_ab
from autocolor.decode.autoregressive import STEP_DTYPE, _CachedState, sample_cached, sample_naive
from autocolor.errors import UsageError
from autocolor.models import create_model
from autocolor.models.pic import PicNet


@pytest.fixture(scope="module")
def tiny() -> PicNet:
    torch.manual_seed(0)
    net = create_model("pic.tiny")
    assert isinstance(net, PicNet)
    return net


@pytest.fixture(scope="module")
def lightness() -> torch.Tensor:
    return torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 100


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(("temperature", "mixture_temperature"), [(1.0, 1.0), (0.6, 1.0), (0.6, 0.7)])
def test_cached_sampler_gives_the_naive_sample(
    tiny: PicNet, lightness: torch.Tensor, temperature: float, mixture_temperature: float
) -> None:
    kwargs = {"temperature": temperature, "mixture_temperature": mixture_temperature}
    naive = sample_naive(tiny, lightness, generator=seeded(5), **kwargs)
    cached = sample_cached(tiny, lightness, generator=seeded(5), **kwargs)
    assert naive.shape == (2, 2, 8, 8)
    assert torch.equal(naive, cached)


def test_cached_sampler_with_the_papers_depth(lightness: torch.Tensor) -> None:
    """4 + 4 gated resnets (pic.deep128, pic.imagenet): the cache keeps one window per block."""
    torch.manual_seed(3)
    deep = create_model("pic.tiny", blocks=4)
    naive = sample_naive(deep, lightness, temperature=0.8, generator=seeded(2))
    assert torch.equal(naive, sample_cached(deep, lightness, temperature=0.8, generator=seeded(2)))


def test_cached_activations_match_a_full_pass(tiny: PicNet, lightness: torch.Tensor) -> None:
    # With every canvas pixel already known, the per-pixel parameters of the cache are the
    # teacher-forced full pass.
    with torch.no_grad():
        embedding = tiny.embed(lightness)
        canvas = torch.cat((torch.rand(2, 3, 8, 8) * 2 - 1, torch.ones(2, 1, 8, 8)), dim=1)
        full = tiny.pixelcnn(canvas, embedding)
        state = _CachedState(tiny, embedding.to(STEP_DTYPE), canvas.to(STEP_DTYPE))
        for i in range(8):
            state.start_row(i)
            for j in range(8):
                params = state.pixel_params(i, j)[:, :, 0, 0]
                assert params.dtype == STEP_DTYPE
                assert torch.allclose(params.float(), full[:, :, i, j], atol=1e-5)


def test_samples_are_integer_lab_levels(tiny: PicNet, lightness: torch.Tensor) -> None:
    ab = sample_cached(tiny, lightness, generator=seeded(0))
    assert torch.allclose(ab, ab.round(), atol=1e-3)
    assert ab[:, 0].min() >= -127 and ab[:, 0].max() <= 128
    assert ab[:, 1].min() >= -128 and ab[:, 1].max() <= 127


def test_seed_reproduces_and_changes_the_sample(tiny: PicNet, lightness: torch.Tensor) -> None:
    first = sample_cached(tiny, lightness, generator=seeded(3))
    assert torch.equal(first, sample_cached(tiny, lightness, generator=seeded(3)))
    assert not torch.equal(first, sample_cached(tiny, lightness, generator=seeded(4)))


def test_temperature_zero_ignores_the_seed(tiny: PicNet, lightness: torch.Tensor) -> None:
    one = sample_cached(tiny, lightness, temperature=0.0, generator=seeded(1))
    two = sample_cached(tiny, lightness, temperature=0.0, generator=seeded(2))
    assert torch.equal(one, two)
    assert torch.equal(one, sample_naive(tiny, lightness, temperature=0.0))


def test_registered_decoder(tiny: PicNet, lightness: torch.Tensor) -> None:
    options = DecodeOptions(method="sample", temperature=1.0, generator=seeded(7))
    ab = predict_ab(tiny, lightness, options)
    assert torch.equal(ab, sample_cached(tiny, lightness, generator=seeded(7)))
    mode = predict_ab(tiny, lightness, DecodeOptions(method="mode", generator=seeded(8)))
    assert torch.equal(mode, sample_cached(tiny, lightness, temperature=0.0))
    with pytest.raises(UsageError, match="annealed_mean"):
        predict_ab(tiny, lightness, DecodeOptions(method="annealed_mean"))


def test_decoder_reads_the_mixture_temperature(tiny: PicNet, lightness: torch.Tensor) -> None:
    extra = {"mixture_temperature": 0.5}
    ab = predict_ab(tiny, lightness, DecodeOptions(method="sample", temperature=0.8, generator=seeded(3), extra=extra))
    assert torch.equal(ab, sample_cached(tiny, lightness, temperature=0.8, mixture_temperature=0.5, generator=seeded(3)))
    assert not torch.equal(ab, sample_cached(tiny, lightness, temperature=0.8, generator=seeded(3)))
    for bad in (0, -0.5, "0.5", True):
        with pytest.raises(UsageError, match="mixture temperature must be a number > 0"):
            predict_ab(tiny, lightness, DecodeOptions(method="sample", extra={"mixture_temperature": bad}))


def test_one_image_in_a_batch_does_not_depend_on_the_others(tiny: PicNet, lightness: torch.Tensor) -> None:
    both = sample_cached(tiny, lightness, temperature=0.0)
    alone = sample_cached(tiny, lightness[1:], temperature=0.0)
    assert torch.equal(both[1:], alone)


def test_sampling_a_training_network_uses_eval_mode(tiny: PicNet, lightness: torch.Tensor) -> None:
    reference = sample_cached(tiny, lightness, generator=seeded(9))
    dropout_net = create_model("pic.tiny", dropout=0.5)
    dropout_net.load_state_dict(tiny.state_dict())
    dropout_net.train()
    assert torch.equal(sample_naive(dropout_net, lightness, generator=seeded(9)), reference)
    assert dropout_net.training


@pytest.mark.parametrize(("seeds", "temperature", "mixture_temperature"), [
    ((3, 4), 1.0, 1.0), ((0, 9, 2, 7, 5), 0.6, 0.7), ((21, 22, 23), 0.8, 1.0),
])  # fmt: skip
def test_seeds_drawn_as_one_batch_are_the_samples_drawn_alone(
    tiny: PicNet, lightness: torch.Tensor, seeds: tuple[int, ...], temperature: float, mixture_temperature: float
) -> None:
    """One photo, one generator per sample: one batch through the cached sampler, each row
    bit-identical to its seed's lone draw (what ``autocolor sample --n`` relies on)."""
    photo = lightness[:1]
    kwargs = {"temperature": temperature, "mixture_temperature": mixture_temperature}
    together = sample_cached(tiny, photo, generator=[seeded(s) for s in seeds], **kwargs)
    assert together.shape == (len(seeds), 2, 8, 8)
    for row, seed in enumerate(seeds):
        assert torch.equal(together[row : row + 1], sample_cached(tiny, photo, generator=seeded(seed), **kwargs))
    assert len({tuple(sample.flatten().tolist()) for sample in together}) == len(seeds)  # really different
    # The naive sampler takes the same generators and gives the same samples.
    assert torch.equal(sample_naive(tiny, photo, generator=[seeded(s) for s in seeds[:2]], **kwargs), together[:2])


def test_one_generator_per_image_of_a_batch(tiny: PicNet, lightness: torch.Tensor) -> None:
    both = sample_cached(tiny, lightness, generator=[seeded(1), seeded(2)])
    assert torch.equal(both[1:], sample_cached(tiny, lightness[1:], generator=seeded(2)))
    with pytest.raises(ValueError, match="3 generators for a batch of 2"):
        sample_cached(tiny, lightness, generator=[seeded(1), seeded(2), seeded(3)])


def test_decoder_takes_one_generator_per_sample(tiny: PicNet, lightness: torch.Tensor) -> None:
    assert draws_per_generator("ab_mixture") and not draws_per_generator("ab_bins")
    options = DecodeOptions(method="sample", temperature=0.9, generator=[seeded(5), seeded(6)])
    ab = predict_ab(tiny, lightness[:1], options)
    assert torch.equal(ab[1:], sample_cached(tiny, lightness[:1], temperature=0.9, generator=seeded(6)))
    cic = create_model("cic.tiny")
    with pytest.raises(TypeError, match="takes one generator, not a sequence"):
        predict_ab(cic, lightness[:1] * 0 + 50, DecodeOptions(method="sample", generator=[seeded(1)]))


def test_several_chroma_of_one_photo_are_each_scored_as_alone(tiny: PicNet, lightness: torch.Tensor) -> None:
    photo = lightness[:1]
    ab = sample_cached(tiny, photo, generator=[seeded(s) for s in (1, 2, 3)]).repeat_interleave(4, -2)
    ab = ab.repeat_interleave(4, -1)  # back to the input resolution, as the likelihood takes it
    with torch.no_grad():
        nats, dims = negative_log_likelihood(tiny, photo, ab)
        alone = [negative_log_likelihood(tiny, photo, ab[r : r + 1]) for r in range(3)]
    assert nats.shape == (3,) and dims == alone[0][1] == 2 * 8 * 8
    assert [float(x) for x in nats] == [float(nll[0]) for nll, _ in alone]  # bit for bit
    assert len(set(nats.tolist())) == 3
