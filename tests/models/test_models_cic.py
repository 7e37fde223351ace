"""CIC networks: official state_dict layouts, shapes, input normalisation, read-out, loading."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from autocolor.errors import WeightsError
from autocolor.models import create_model
from autocolor.models.cic import ECCV16Net, SIGGRAPH17Net

# Conv layers as (prefix, weight shape) and BatchNorm layers as (prefix, channels), written out
# from ../shared/REFERENCE.md and the official `colorizers` port, NOT derived from our modules.
ECCV16_CONVS = [
    ("model1.0", (64, 1, 3, 3)), ("model1.2", (64, 64, 3, 3)),
    ("model2.0", (128, 64, 3, 3)), ("model2.2", (128, 128, 3, 3)),
    ("model3.0", (256, 128, 3, 3)), ("model3.2", (256, 256, 3, 3)), ("model3.4", (256, 256, 3, 3)),
    ("model4.0", (512, 256, 3, 3)), ("model4.2", (512, 512, 3, 3)), ("model4.4", (512, 512, 3, 3)),
    ("model5.0", (512, 512, 3, 3)), ("model5.2", (512, 512, 3, 3)), ("model5.4", (512, 512, 3, 3)),
    ("model6.0", (512, 512, 3, 3)), ("model6.2", (512, 512, 3, 3)), ("model6.4", (512, 512, 3, 3)),
    ("model7.0", (512, 512, 3, 3)), ("model7.2", (512, 512, 3, 3)), ("model7.4", (512, 512, 3, 3)),
    ("model8.0", (512, 256, 4, 4)),  # ConvTranspose2d: (in, out, k, k); bias has `out` entries
    ("model8.2", (256, 256, 3, 3)), ("model8.4", (256, 256, 3, 3)), ("model8.6", (313, 256, 1, 1)),
]
ECCV16_NORMS = [("model1.4", 64), ("model2.4", 128), ("model3.6", 256), ("model4.6", 512),
                ("model5.6", 512), ("model6.6", 512), ("model7.6", 512)]
ECCV16_EXTRA = [("model_out.weight", (2, 313, 1, 1))]  # no bias

SIGGRAPH17_CONVS = [
    ("model1.0", (64, 4, 3, 3)), ("model1.2", (64, 64, 3, 3)),
    ("model2.0", (128, 64, 3, 3)), ("model2.2", (128, 128, 3, 3)),
    ("model3.0", (256, 128, 3, 3)), ("model3.2", (256, 256, 3, 3)), ("model3.4", (256, 256, 3, 3)),
    ("model4.0", (512, 256, 3, 3)), ("model4.2", (512, 512, 3, 3)), ("model4.4", (512, 512, 3, 3)),
    ("model5.0", (512, 512, 3, 3)), ("model5.2", (512, 512, 3, 3)), ("model5.4", (512, 512, 3, 3)),
    ("model6.0", (512, 512, 3, 3)), ("model6.2", (512, 512, 3, 3)), ("model6.4", (512, 512, 3, 3)),
    ("model7.0", (512, 512, 3, 3)), ("model7.2", (512, 512, 3, 3)), ("model7.4", (512, 512, 3, 3)),
    ("model8up.0", (512, 256, 4, 4)), ("model3short8.0", (256, 256, 3, 3)),
    ("model8.1", (256, 256, 3, 3)), ("model8.3", (256, 256, 3, 3)),
    ("model9up.0", (256, 128, 4, 4)), ("model2short9.0", (128, 128, 3, 3)),
    ("model9.1", (128, 128, 3, 3)),
    ("model10up.0", (128, 128, 4, 4)), ("model1short10.0", (128, 64, 3, 3)),
    ("model10.1", (128, 128, 3, 3)),
    ("model_class.0", (529, 256, 1, 1)), ("model_out.0", (2, 128, 1, 1)),
]
SIGGRAPH17_NORMS = [("model1.4", 64), ("model2.4", 128), ("model3.6", 256), ("model4.6", 512),
                    ("model5.6", 512), ("model6.6", 512), ("model7.6", 512), ("model8.5", 256),
                    ("model9.3", 128)]

TRANSPOSED = {"model8.0", "model8up.0", "model9up.0", "model10up.0"}


def expected_shapes(
    convs: list[tuple[str, tuple[int, ...]]],
    norms: list[tuple[str, int]],
    extra: Sequence[tuple[str, tuple[int, ...]]] = (),
) -> dict[str, tuple[int, ...]]:
    """The full (key -> shape) table of an official file: convs with bias, BN with stats."""
    table: dict[str, tuple[int, ...]] = {}
    for prefix, shape in convs:
        table[f"{prefix}.weight"] = shape
        table[f"{prefix}.bias"] = (shape[1] if prefix in TRANSPOSED else shape[0],)
    for prefix, channels in norms:
        for name in ("weight", "bias", "running_mean", "running_var"):
            table[f"{prefix}.{name}"] = (channels,)
    table.update(dict(extra))
    return table


ECCV16_TABLE = expected_shapes(ECCV16_CONVS, ECCV16_NORMS, ECCV16_EXTRA)
SIGGRAPH17_TABLE = expected_shapes(SIGGRAPH17_CONVS, SIGGRAPH17_NORMS)


def random_state_dict(table: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """What an official .pth holds (plain dict, no num_batches_tracked), with random values."""
    gen = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=gen) * 0.05 for k, shape in table.items()}
    for key in state:
        if key.endswith("running_var"):
            state[key] = state[key].abs() + 0.5  # a variance must be positive
    return state


def trainable_count(table: dict[str, tuple[int, ...]]) -> int:
    return sum(int(np.prod(s)) for k, s in table.items() if "running_" not in k)


def test_reference_tables_have_the_published_parameter_counts() -> None:
    assert trainable_count(ECCV16_TABLE) == 32_236_011
    assert trainable_count(SIGGRAPH17_TABLE) == 34_187_027


@pytest.mark.parametrize(
    ("factory", "table", "count"),
    [(ECCV16Net, ECCV16_TABLE, 32_236_011), (SIGGRAPH17Net, SIGGRAPH17_TABLE, 34_187_027)],
    ids=["eccv16", "siggraph17"],
)
def test_official_layout_loads_strictly(factory: type, table: dict, count: int) -> None:
    model = factory()
    assert sum(p.numel() for p in model.parameters()) == count
    state = random_state_dict(table)
    model.load_state_dict(state, strict=True)  # raises on any missing/unexpected key or shape
    ours = model.state_dict()
    assert {k for k in ours if not k.endswith("num_batches_tracked")} == set(table)
    for key in ("model1.0.weight", "model4.6.running_var", next(reversed(table))):
        assert torch.equal(ours[key], state[key])


def test_eccv16_state_dict_with_num_batches_tracked_also_loads() -> None:
    # Files saved by newer PyTorch carry the BN counter; both variants must load strictly.
    state = random_state_dict(ECCV16_TABLE)
    for prefix, _ in ECCV16_NORMS:
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(7)
    model = ECCV16Net()
    model.load_state_dict(state, strict=True)
    assert int(model.model3[6].num_batches_tracked) == 7


def expectation(logits: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Mean bin centre under softmax(logits): (N, Q, h, w) -> (N, 2, h, w)."""
    try:
        from autocolor.decode.bins import expectation as decode_expectation
    except ImportError:  # decode/bins.py not written yet: the same expectation, inline
        return torch.einsum("nqhw,qc->nchw", torch.softmax(logits, dim=1), grid)
    return decode_expectation(logits, grid)


def test_official_mean_readout_is_the_plain_expectation() -> None:
    gen = torch.Generator().manual_seed(1)
    grid = (torch.rand(313, 2, generator=gen) - 0.5) * 200  # any centres: the identity is generic
    model = create_model("cic.tiny")
    with torch.no_grad():
        model.model_out.weight.copy_((grid / 110).T.reshape(2, 313, 1, 1))
        logits = torch.randn(2, 313, 3, 5, generator=gen) * 3
        readout = model.official_mean_readout(logits)
    assert readout.shape == (2, 2, 3, 5)
    assert torch.allclose(readout, expectation(logits, grid), atol=1e-4)


def peaked_readout(model: ECCV16Net) -> torch.Tensor:
    """Read-out of 313 pixels, pixel j certain of bin j: returns (313, 2) ab."""
    logits = (torch.eye(313) * 1000.0).view(1, 313, 1, 313)  # logits[0, q, 0, j] = 1000 [q == j]
    with torch.no_grad():
        return model.official_mean_readout(logits)[0, :, 0, :].T


def project_grid() -> torch.Tensor:
    from autocolor.color.bins import cic_ab_grid

    try:
        return cic_ab_grid()
    except NotImplementedError:
        pytest.skip("cic_ab_grid() is not implemented yet")


def test_model_out_channels_follow_the_project_grid_order() -> None:
    # A file whose model_out is grid / 110 (what the official one is said to hold) loads
    # strictly, and channel q of the logits then means bin q of cic_ab_grid().
    grid = project_grid()
    state = random_state_dict(ECCV16_TABLE)
    state["model_out.weight"] = (grid / 110).T.reshape(2, 313, 1, 1).clone()
    model = ECCV16Net()
    model.load_state_dict(state, strict=True)
    assert torch.allclose(peaked_readout(model), grid, atol=1e-3)


def test_official_bin_order_matches_the_project_grid(shared_dir: Path) -> None:
    # The official model_out holds pts_in_hull / 110 (REFERENCE.md): our logit channel q must be
    # the same ab bin as the official channel q, or every decoded colour would be wrong.
    grid = project_grid()
    official = torch.from_numpy(np.load(shared_dir / "reference" / "pts_in_hull.npy")).float()
    model = create_model("cic.tiny")
    with torch.no_grad():
        model.model_out.weight.copy_((official / 110).T.reshape(2, 313, 1, 1))
    assert torch.allclose(peaked_readout(model), grid, atol=1e-3)


def require_weights_module() -> None:
    # autocolor/weights/ may exist as an empty folder (a namespace package) before it is written.
    from autocolor import weights

    if not hasattr(weights, "read_state_dict_file"):
        pytest.skip("autocolor.weights.read_state_dict_file is not written yet")


def test_pth_file_loads_through_create_model(tmp_path: Path) -> None:
    require_weights_module()
    state = random_state_dict(ECCV16_TABLE, seed=3)
    path = tmp_path / "eccv16.pth"
    torch.save(state, path)
    model = create_model("cic.eccv16", pretrained=path)
    assert not model.training
    loaded = model.state_dict()
    for key in ("model1.0.weight", "model5.6.running_mean", "model8.6.bias", "model_out.weight"):
        assert torch.equal(loaded[key], state[key])


def test_pth_with_missing_key_is_a_weights_error(tmp_path: Path) -> None:
    require_weights_module()
    state = create_model("cic.tiny").state_dict()
    del state["model_out.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match="model_out.weight"):
        create_model("cic.tiny", pretrained=path)


def test_official_file_goes_through_manifest_checksum_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real path of `create_model("cic.eccv16", pretrained=True)`: a .pth pinned by sha256 in
    # weights.toml, verified on import, converted to safetensors, then loaded strictly.
    require_weights_module()
    from autocolor import weights
    from autocolor.errors import ChecksumMismatchError

    state = random_state_dict(ECCV16_TABLE, seed=5)
    original = tmp_path / "colorization_release_v2.pth"
    torch.save(state, original)
    data = original.read_bytes()
    manifest = tmp_path / "weights.toml"
    manifest.write_text(
        '[models."cic.eccv16"]\narch = "cic.eccv16"\n'
        'sources = [{url = "https://example.invalid/eccv16.pth"}]\n'
        f'sha256 = "{hashlib.sha256(data).hexdigest()}"\nbytes = {len(data)}\n'
        'format = "pth"\nlicence = "BSD-2-Clause"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUTOCOLOR_WEIGHTS_TOML", str(manifest))

    tampered = tmp_path / "tampered.pth"
    tampered.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit flipped
    with pytest.raises(ChecksumMismatchError):
        weights.import_file("cic.eccv16", tampered)
    with pytest.raises(WeightsError, match="offline"):
        create_model("cic.eccv16", pretrained=True, offline=True)

    weights.import_file("cic.eccv16", original)
    model = create_model("cic.eccv16", pretrained=True, offline=True)
    loaded = model.state_dict()
    for key in ("model2.2.weight", "model7.6.running_var", "model8.0.weight", "model_out.weight"):
        assert torch.equal(loaded[key], state[key])
