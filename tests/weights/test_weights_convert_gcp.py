"""GCP weights: official-layout files -> verified, hash-recorded safetensors parts -> strict load."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from gcp_weights_testutil import PAGE, PARTS, gcp_manifest, official_objects, write_official_files

from autocolor import weights
from autocolor.cli.fetch_weights import fetch_weights_command
from autocolor.errors import ChecksumMismatchError, WeightsError
from autocolor.models import create_model
from autocolor.models.gcp import GCPColorizer
from autocolor.weights import cache
from autocolor.weights.convert_gcp import COMPONENTS, convert_gcp_file, official_checkpoints
from autocolor.weights.manifest import parse_manifest


@pytest.fixture
def net() -> GCPColorizer:
    torch.manual_seed(0)
    return create_model("gcp.tiny")


@pytest.fixture
def folder(net: GCPColorizer, tmp_path: Path) -> Path:
    write_official_files(net, tmp_path / "assets")
    return tmp_path / "assets"


@pytest.fixture
def manifest(use_manifest: Callable[[str], Path]) -> Path:
    return use_manifest(gcp_manifest())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_import_folder_records_hashes_and_loads_strictly(
    net: GCPColorizer, folder: Path, manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="autocolor.weights"):
        result = CliRunner().invoke(fetch_weights_command, ["gcp.tiny", "--from", str(folder)])
    assert result.exit_code == 0, result.output
    assert "gcp.tiny: ok" in result.output
    for suffix, filename in PARTS:
        assert cache.recorded_sha256(f"gcp.tiny.{suffix}") == _sha(folder / filename)
    assert "neither size nor hash could be checked" in caplog.text  # said honestly
    loaded = create_model("gcp.tiny", pretrained=True, offline=True)
    _same_weights(loaded.state_dict(), net.state_dict())  # every key, SN u0/sv0 buffers included
    assert weights.verify("gcp.tiny").ok
    assert weights.cached_weights("gcp.tiny") == weights.cache_dir()


def test_legacy_serialisation_of_the_dgp_era_loads(net: GCPColorizer, tmp_path: Path, manifest: Path) -> None:
    folder = tmp_path / "legacy"
    paths = write_official_files(net, folder, legacy=True)
    assert paths["biggan_G_ema_256.pth"].read_bytes()[:2] == b"\x80\x02"  # a bare pickle, not a zip
    weights.import_file("gcp.tiny", folder)
    _same_weights(create_model("gcp.tiny", pretrained=True, offline=True).state_dict(), net.state_dict())


def test_a_changed_file_is_refused_after_the_first_import(net: GCPColorizer, folder: Path, manifest: Path) -> None:
    weights.import_file("gcp.tiny", folder)
    with torch.no_grad():
        net.biggan_enc.linear.weight.add_(1.0)
    torch.save(net.biggan_enc.state_dict(), folder / "biggan_E.pth")
    with pytest.raises(ChecksumMismatchError, match="recorded on first use"):
        weights.import_file("gcp.tiny.encoder", folder)
    result = CliRunner().invoke(fetch_weights_command, ["gcp.tiny", "--from", str(folder)])
    assert result.exit_code == 1 and "4 of 5 files imported" in result.output


def test_missing_and_swapped_files_are_named(net: GCPColorizer, folder: Path, manifest: Path) -> None:
    (folder / "deformator_for_biggan.pt").unlink()
    (folder / "biggan_E.pth").write_bytes((folder / "biggan_G_ema_256.pth").read_bytes())
    with pytest.raises(WeightsError) as excinfo:
        weights.import_file("gcp.tiny", folder)
    message = str(excinfo.value)
    assert "3 of 5 files imported" in message
    assert "deformator_for_biggan.pt: no such file" in message
    assert "this is the BigGAN generator (biggan_G_ema_256.pth), expected the BigGAN encoder E" in message
    assert weights.cached_weights("gcp.tiny.generator") is not None  # the good ones are kept
    with pytest.raises(WeightsError, match="give the folder"):
        weights.import_file("gcp.tiny", folder / "biggan_D_256.pth")


def test_fetch_explains_the_manual_download(manifest: Path) -> None:
    with pytest.raises(WeightsError) as excinfo:
        weights.fetch("gcp.tiny")
    message = str(excinfo.value)
    assert PAGE in message and "colorization_model.pth" in message
    assert "autocolor fetch-weights gcp.tiny --from DIR" in message


def test_converter_checks_every_key_and_shape(net: GCPColorizer, tmp_path: Path) -> None:
    state = net.biggan_gen.state_dict()
    state["blocks.0.0.conv1.weight"] = state["blocks.0.0.conv1.weight"][:, :-1]
    torch.save(state, tmp_path / "g.pth")
    with pytest.raises(WeightsError, match=r"shapes differ \(e.g. biggan_gen.blocks.0.0.conv1.weight"):
        convert_gcp_file(tmp_path / "g.pth", "gcp.tiny")
    state = net.biggan_dis.state_dict()
    del state["embed.u0"]
    torch.save(state, tmp_path / "d.pth")
    with pytest.raises(WeightsError, match="missing 1 keys .e.g. biggan_dis.embed.u0"):
        convert_gcp_file(tmp_path / "d.pth", "gcp.tiny")
    torch.save({"something": torch.zeros(1)}, tmp_path / "x.pth")
    with pytest.raises(WeightsError, match="not one of GCP's files"):
        convert_gcp_file(tmp_path / "x.pth", "gcp.tiny")


def test_converter_refuses_pickled_code(tmp_path: Path) -> None:
    torch.save({"net_corr": {"w": torch.zeros(1)}, "net_gen": {"opt": Path("x")}}, tmp_path / "c.pth")
    with pytest.raises(WeightsError, match="refused to load"):
        convert_gcp_file(tmp_path / "c.pth", "gcp.tiny")


def test_colorization_file_extra_entries_are_ignored(net: GCPColorizer, tmp_path: Path) -> None:
    obj = official_objects(net)["colorization_model.pth"]
    obj["epoch"] = 12  # type: ignore[index]
    torch.save(obj, tmp_path / "colorization_model.pth")
    component, state = convert_gcp_file(tmp_path / "colorization_model.pth", "gcp.tiny", expect="colorization")
    assert component == "colorization"
    expected = {k: v for k, v in net.state_dict().items() if k.startswith(("net_corr.", "net_gen."))}
    _same_weights(state, expected)


def test_official_checkpoints_is_the_inverse_of_the_converter(net: GCPColorizer, tmp_path: Path) -> None:
    files = official_checkpoints(net.state_dict())
    assert set(files) == {filename for filename, _ in COMPONENTS.values()}
    merged: dict[str, torch.Tensor] = {}
    for filename, obj in files.items():
        torch.save(obj, tmp_path / filename)
        merged.update(convert_gcp_file(tmp_path / filename, "gcp.tiny")[1])
    _same_weights(merged, net.state_dict())
    hand = official_objects(net)
    _same_weights(files["biggan_E.pth"], hand["biggan_E.pth"])  # type: ignore[arg-type]


def test_manifest_bundles_and_unpublished_hashes_are_validated() -> None:
    specs = parse_manifest(gcp_manifest())
    bundle = specs["gcp.tiny"]
    assert bundle.parts == tuple(f"gcp.tiny.{s}" for s, _ in PARTS) and bundle.format == "bundle"
    part = specs["gcp.tiny.encoder"]
    assert (part.sha256, part.bytes, part.filename) == (None, None, "biggan_E.pth")
    assert part.sources[0].kind == "manual" and PAGE in part.sources[0].describe()
    with pytest.raises(WeightsError, match="has no file of its own"):
        parse_manifest(gcp_manifest().replace('parts = [', 'format = "pth"\nparts = [', 1))
    with pytest.raises(WeightsError, match="must name another non-bundle entry"):
        parse_manifest(gcp_manifest().replace('"gcp.tiny.encoder", ', '"gcp.tiny.nope", ', 1))
    with pytest.raises(WeightsError, match="at least bytes"):
        parse_manifest(gcp_manifest().replace('sha256 = "unpublished"\n', "", 1))
    with pytest.raises(WeightsError, match="plain file name"):
        parse_manifest(gcp_manifest().replace('filename = "biggan_E.pth"', 'filename = "../biggan_E.pth"'))


def test_real_manifest_pins_the_five_official_gcp_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOCOLOR_WEIGHTS_TOML", raising=False)
    specs = weights.manifest()
    bundle = specs["gcp.imagenet"]
    assert bundle.arch == "gcp.imagenet" and len(bundle.parts) == 5
    files = {specs[p].filename for p in bundle.parts}
    assert files == {filename for filename, _ in COMPONENTS.values()}
    for name in bundle.parts:
        s = specs[name]
        assert (s.arch, s.format, s.sha256) == ("gcp.imagenet", "gcp_pth", None)
        assert [src.kind for src in s.sources] == ["manual"]
