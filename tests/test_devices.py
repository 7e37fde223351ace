"""Device parsing and the precision policy (no GPU needed: CUDA presence is faked)."""

from __future__ import annotations

import contextlib
import warnings

import pytest
import torch

from autocolor.devices import autocast_context, inference_dtype, resolve_device
from autocolor.errors import DeviceError


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_cpu_and_auto_without_cuda(no_cuda: None) -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_and_indices_with_cuda(two_gpus: None) -> None:
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_missing_cuda_is_a_clear_error(no_cuda: None) -> None:
    with pytest.raises(DeviceError, match="CUDA is not available") as info:
        resolve_device("cuda")
    assert info.value.exit_code == 2
    assert "--device cpu" in str(info.value)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_cuda_index_out_of_range(two_gpus: None) -> None:
    with pytest.raises(DeviceError, match=r"2 CUDA device\(s\).*cuda:0\.\.cuda:1"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cuda:-1", "gpu", "cuda1", ""])
def test_unknown_spellings(spec: str, no_cuda: None) -> None:
    if spec == "":
        assert resolve_device(spec) == torch.device("cpu")  # empty = auto
        return
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(spec)


def test_cpu_runs_fp32() -> None:
    cpu = torch.device("cpu")
    assert inference_dtype(cpu) == torch.float32
    with autocast_context(cpu):
        y = torch.ones(2, 3) @ torch.ones(3, 2)
    assert y.dtype == torch.float32
    assert isinstance(autocast_context(cpu), contextlib.nullcontext)


def test_cuda_policy_bf16_with_fp32_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert inference_dtype(cuda) == torch.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constructing a CUDA autocast without CUDA warns
        ctx = autocast_context(cuda)
    assert isinstance(ctx, torch.autocast)
    assert ctx.fast_dtype == torch.bfloat16
    # The fallback path (and GPUs without bf16) run in plain fp32.
    assert isinstance(autocast_context(cuda, enabled=False), contextlib.nullcontext)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert inference_dtype(cuda) == torch.float32
    assert isinstance(autocast_context(cuda), contextlib.nullcontext)
