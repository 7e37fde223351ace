"""Device selection and the numeric precision policy for inference.

``--device`` accepts ``auto``, ``cpu``, ``cuda`` and ``cuda:N``. ``auto`` picks the first CUDA
device when one is usable and the CPU otherwise. Precision: fp32 on the CPU (bf16 matmuls
are slower than fp32 on most CPUs and change results); bf16 autocast on CUDA devices that
support it, fp32 elsewhere. Decoders upcast logits to fp32 before softmax, and the pipeline
re-runs a batch in fp32 if autocast produced non-finite values.
"""

from __future__ import annotations

import contextlib
import re

import torch

from autocolor.errors import DeviceError

_CUDA_PATTERN = re.compile(r"^cuda(?::(\d+))?$")
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn a user's device string into a usable :class:`torch.device`.

    Raises:
        DeviceError: the string is not one of ``auto|cpu|cuda|cuda:N``, CUDA is not available,
            or ``N`` is not an existing CUDA device index. The message says what exists.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "auto").strip().lower()
    if text == "auto":
        return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = _CUDA_PATTERN.match(text)
    if match is None:
        raise DeviceError(f"unknown device {spec!r}; use one of: {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {spec!r} requested but CUDA is not available "
            f"(torch {torch.__version__}, built for CUDA: {torch.version.cuda or 'no'}); "
            "use --device cpu"
        )
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(
            f"device {spec!r} does not exist; {count} CUDA device(s) visible (cuda:0..cuda:{count - 1})"
        )
    return torch.device("cuda", index)


def inference_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype used on ``device``: bf16 on CUDA with bf16 support, else fp32."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def autocast_context(
    device: torch.device, enabled: bool = True
) -> contextlib.AbstractContextManager[object]:
    """Context for the network forward pass on ``device`` under the precision policy.

    ``enabled=False`` forces fp32 (the fallback when reduced precision gave non-finite values).
    """
    dtype = inference_dtype(device)
    if not enabled or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
