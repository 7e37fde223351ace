"""Reading state_dicts safely and converting them to safetensors."""

from __future__ import annotations

import collections
import dataclasses
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from weights_testutil import TinyCheckpoint, make_state

from autocolor.errors import WeightsError
from autocolor.weights import convert, read_state_dict_file
from autocolor.weights.manifest import parse_manifest

SPEC_TOML = """
[models."toy.a"]
arch = "cic.tiny"
sources = [{url = "https://example.org/a"}]
bytes = 1
format = "%s"
licence = "MIT"
"""


def _spec(fmt: str = "pth"):  # noqa: ANN202 - WeightSpec
    return parse_manifest(SPEC_TOML % fmt)["toy.a"]


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


def test_pth_and_safetensors_read_back_equal(tiny_pth: TinyCheckpoint, tmp_path: Path) -> None:
    _assert_same(read_state_dict_file(tiny_pth.path), tiny_pth.state)
    st = tmp_path / "w.safetensors"
    save_file(tiny_pth.state, str(st))
    _assert_same(read_state_dict_file(st), tiny_pth.state)


def test_wrapped_state_dict_is_unwrapped(tmp_path: Path) -> None:
    state = make_state(3)
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": state, "epoch": 3}, path)
    _assert_same(read_state_dict_file(path), state)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this must never run",))


def test_arbitrary_pickles_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "x": _Evil()}, path)
    with pytest.raises(WeightsError, match="evil.pth: refused to load"):
        read_state_dict_file(path)
    assert "must never run" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"a": 1}, "not named tensors"),
        ([torch.zeros(1)], "expected a state_dict"),
        ({}, "empty"),
    ],
)
def test_non_state_dicts_are_rejected(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "bad.pth"
    torch.save(content, path)
    with pytest.raises(WeightsError, match=message):
        read_state_dict_file(path)


def test_unreadable_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="no such weights file"):
        read_state_dict_file(tmp_path / "absent.pth")
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(WeightsError, match="unsupported weights file type '.onnx'"):
        read_state_dict_file(tmp_path / "w.onnx")
    (tmp_path / "junk.pth").write_bytes(b"not a zip nor a pickle")
    with pytest.raises(WeightsError, match="junk.pth"):
        read_state_dict_file(tmp_path / "junk.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        read_state_dict_file(tmp_path / "junk.safetensors")


def test_convert_handles_shared_and_non_contiguous_tensors(tmp_path: Path) -> None:
    base = torch.arange(12.0).reshape(3, 4)
    state = collections.OrderedDict(
        tied_a=base, tied_b=base, transposed=base.t(), row=base[1]
    )  # tied weights share storage; a transpose is not contiguous
    src = tmp_path / "tied.pth"
    torch.save(state, src)
    dest = tmp_path / "out" / "tied.safetensors"
    convert.convert_to_safetensors(src, _spec(), dest, metadata={"k": "v"})
    loaded = load_file(str(dest))
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key
    assert not list(dest.parent.glob(".*tmp"))  # no temporary left behind


def test_converter_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "_CONVERTERS", dict(convert._CONVERTERS))
    spec = dataclasses.replace(_spec(), format="toy_fmt")
    with pytest.raises(WeightsError, match="no converter for weights format 'toy_fmt'"):
        convert.get_converter("toy_fmt")

    @convert.register_converter("toy_fmt")
    def fake(src: Path, spec: object) -> dict[str, torch.Tensor]:
        return {"w": torch.full((2,), float(len(src.read_bytes())))}

    with pytest.raises(ValueError, match="registered twice"):
        convert.register_converter("toy_fmt")(fake)
    src = tmp_path / "model.bin"
    src.write_bytes(b"12345")
    dest = tmp_path / "model.safetensors"
    convert.convert_to_safetensors(src, spec, dest)
    assert torch.equal(load_file(str(dest))["w"], torch.tensor([5.0, 5.0]))


def test_converters_of_other_modules_load_on_demand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "_CONVERTERS", {})
    monkeypatch.setattr(convert, "_CONVERTER_MODULES", {"toy_fmt": "toy_converter_module"})
    (tmp_path / "toy_converter_module.py").write_text(
        "from autocolor.weights.convert import register_converter\n"
        "@register_converter('toy_fmt')\n"
        "def conv(src, spec):\n    return {}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toy_converter_module", raising=False)
    assert "toy_fmt" not in convert._CONVERTERS
    assert convert.get_converter("toy_fmt") is sys.modules["toy_converter_module"].conv
    monkeypatch.delitem(sys.modules, "toy_converter_module")


def test_caffe_h5_converter_is_reachable_by_format() -> None:
    assert callable(convert.get_converter("caffe_h5"))
