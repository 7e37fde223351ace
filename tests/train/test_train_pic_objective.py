"""PIC objective: bits/dim equals the chain rule of per-pixel terms; targets; it trains."""

from __future__ import annotations

import math

import pytest
import torch

from autocolor.decode.logistic_mixture import log_prob
from autocolor.models import create_model
from autocolor.models.pic import PicNet, denormalize_ab
from autocolor.train.pic_objective import PicObjective


@pytest.fixture
def tiny() -> PicNet:
    torch.manual_seed(0)
    net = create_model("pic.tiny")
    assert isinstance(net, PicNet)
    return net


def batch(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lightness = torch.rand(n, 1, size, size, generator=g) * 100
    ab = (torch.rand(n, 2, size, size, generator=g) - 0.5) * 120
    return lightness, ab


def test_reported_likelihood_is_the_sum_of_the_per_pixel_terms(tiny: PicNet) -> None:
    # Chain rule by hand: pixel t's term comes from a pass that sees only pixels before t.
    lightness, ab = batch(1, 16, seed=1)  # 4 x 4 chroma
    objective = PicObjective(embedding_weight=0.0)
    with torch.no_grad():
        _, metrics = objective(tiny, lightness, ab)
        target = objective.targets(tiny, ab)
        lum = tiny.chroma_lightness(lightness)
        embedding = tiny.embed(lightness)
        total = 0.0
        for t in range(16):
            i, j = divmod(t, 4)
            seen = torch.zeros(1, 1, 4, 4)
            seen.view(-1)[:t] = 1.0
            canvas = tiny.canvas(lum, target) * torch.cat((seen.expand(1, 3, 4, 4), torch.ones(1, 1, 4, 4)), 1)
            params = tiny.pixelcnn(canvas, embedding)[:, :, i : i + 1, j : j + 1]
            term = log_prob(params, target[:, :, i : i + 1, j : j + 1], lum[:, :, i : i + 1, j : j + 1])
            total += term.item()
    assert metrics["bpd"] == pytest.approx(-total / (2 * 16 * math.log(2)), rel=1e-5)
    assert metrics["loss"] == pytest.approx(metrics["bpd"])


def test_loss_adds_the_embedding_term(tiny: PicNet) -> None:
    lightness, ab = batch(2, 32, seed=2)
    loss, metrics = PicObjective(embedding_weight=0.5)(tiny, lightness, ab)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert set(metrics) == {"loss", "bpd", "bpd_embedding"}
    assert loss.item() == pytest.approx(metrics["bpd"] + 0.5 * metrics["bpd_embedding"], rel=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in tiny.parameters())


def test_targets_are_pooled_and_quantised(tiny: PicNet) -> None:
    ab = torch.zeros(1, 2, 8, 8)
    ab[:, :, :4, :4] = 10.2  # one 4 x 4 block: mean (10.2 * 15 + 30) / 16 = 11.4375
    ab[:, :, 0, 0] = 30.0
    area = PicObjective(pooling="area").targets(tiny, ab)
    sub = PicObjective(pooling="subsample").targets(tiny, ab)
    assert area.shape == sub.shape == (1, 2, 2, 2)
    # Levels are integer Lab values: the block mean rounds to 11, the zero blocks stay 0.
    assert denormalize_ab(area)[0, :, 0, 0].tolist() == pytest.approx([11.0, 11.0], abs=1e-4)
    assert denormalize_ab(area)[0, :, 1, 1].tolist() == pytest.approx([0.0, 0.0], abs=1e-4)
    assert denormalize_ab(sub)[0, :, 0, 0].tolist() == pytest.approx([30.0, 30.0], abs=1e-4)
    assert torch.equal(PicObjective().targets(tiny, ab), area)  # pic.tiny pools by area
    with pytest.raises(ValueError, match="pooling"):
        PicObjective(pooling="bicubic")


def test_a_few_steps_lower_the_loss(tiny: PicNet) -> None:
    tiny.train()
    lightness, ab = batch(4, 32, seed=3)
    objective = PicObjective()
    optimizer = torch.optim.Adam(tiny.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss, _ = objective(tiny, lightness, ab)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_wrapped_model_is_unwrapped(tiny: PicNet) -> None:
    class Wrapper(torch.nn.Module):  # what DistributedDataParallel looks like to the objective
        def __init__(self, module: torch.nn.Module) -> None:
            super().__init__()
            self.module = module

        def forward(self, *args: object, **kwargs: object) -> object:
            return self.module(*args, **kwargs)

    lightness, ab = batch(1, 32, seed=4)
    direct = PicObjective()(tiny, lightness, ab)[1]
    wrapped = PicObjective()(Wrapper(tiny), lightness, ab)[1]
    assert direct == pytest.approx(wrapped)
    with pytest.raises(TypeError, match="PicNet"):
        PicObjective()(torch.nn.Linear(1, 1), lightness, ab)
