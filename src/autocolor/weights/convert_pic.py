"""Official PIC TensorFlow checkpoint -> autocolor ``PicNet`` state_dict (format ``"tf_ckpt"``).

Which writer's layout this follows, and where it was read: the official training script
(ameroyer/PIC ``main.py``) saves with a default TF1 ``tf.train.Saver()`` (every global variable,
V2 tensor-bundle format) via ``saver.save(sess, os.path.join(log_dir, "model.ckpt"))``: files
``model.ckpt.index``, ``model.ckpt.data-00000-of-00001``, ``model.ckpt.meta`` (the graph, not
read) and a ``checkpoint`` state file whose path is relative to the training run's working
directory (``./log/<date>/model.ckpt``), so the prefix is found by name in the folder
(:func:`~autocolor.weights.tf_checkpoint.find_checkpoint_prefix`). Besides the network, the bundle
holds what ``main.py`` creates: the EMA shadows of ``ema.apply(tf.trainable_variables())``,
``AdamOptimizer``'s slots and ``beta1_power`` / ``beta2_power``, and float64 scalars for summaries
(``bpd_rec``, ``rec_error``, ``gen_error``, ``gen_error_gray``); the tests' checkpoints
(``tests/weights/tf_ckpt_writer.py``) hold all of these.

The official code builds the network inside ``tf.make_template("picolor_template", ...)``;
``tf.name_scope`` does not prefix variables, so every weight-normalised conv ``<scope>`` has
variables ``picolor_template/<scope>/V`` (kernel ``(kh, kw, in, out)``), ``.../g`` and ``.../b``
(``(out,)``), with ``<scope>`` e.g. ``conv_leak``, ``down_leak_3/conv1``,
``shortrange_down_right_2/conv_aux`` or ``conv_last``. Training keeps exponential moving averages
of all of them (``<variable>/ExponentialMovingAverage``), which the official sampler uses; they
are preferred here too. Optimizer slots (``/Adam``, ``/Adam_1``) and other variables are ignored.

``PicNet`` names its modules after those scopes, grouped under ``embedding.`` (``g``) and
``pixelcnn.`` (``f``), and stores ``weight_v`` as ``(out, in, kh, kw)``; the mapping is
therefore mechanical and driven by the target network's own parameter list.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from autocolor.errors import WeightsError
from autocolor.weights.convert import register_converter
from autocolor.weights.tf_checkpoint import (
    TFCheckpoint,
    extract_checkpoint_archive,
    find_checkpoint_prefix,
)

if TYPE_CHECKING:  # pragma: no cover
    from autocolor.weights.manifest import WeightSpec

TEMPLATE_SCOPE = "picolor_template"
EMA_SUFFIX = "ExponentialMovingAverage"
_PARAM_TO_TF = {"weight_v": "V", "weight_g": "g", "bias": "b"}


def tf_variable_name(param_name: str) -> str:
    """``embedding.down_leak_3.conv1.weight_v`` -> ``picolor_template/down_leak_3/conv1/V``."""
    group, _, rest = param_name.partition(".")
    if group not in ("embedding", "pixelcnn") or not rest:
        raise ValueError(f"not a PicNet parameter name: {param_name!r}")
    scope, _, leaf = rest.rpartition(".")
    if leaf not in _PARAM_TO_TF:
        raise ValueError(f"not a weight-normalised conv parameter: {param_name!r}")
    return f"{TEMPLATE_SCOPE}/{scope.replace('.', '/')}/{_PARAM_TO_TF[leaf]}"


def _expected_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    from autocolor.models.registry import model_info

    with torch.device("meta"):  # shapes only, no 400 MB allocation
        net = model_info(arch).factory()
    return {name: tuple(p.shape) for name, p in net.state_dict().items()}


def convert_pic_checkpoint(
    ckpt_prefix: str | Path,
    arch: str = "pic.imagenet",
    *,
    use_ema: bool = True,
    verify: bool = True,
) -> dict[str, torch.Tensor]:
    """Read the official checkpoint at ``ckpt_prefix`` into a state_dict for ``arch``.

    Args:
        ckpt_prefix: checkpoint prefix (``.../model.ckpt``), its ``.index`` file or a folder.
        arch: registry name of the target network (its parameters define what is read).
        use_ema: take ``.../ExponentialMovingAverage`` copies where present (the official
            sampler's weights); raw training values otherwise.
        verify: check each tensor's stored CRC-32C.

    Returns:
        ``{parameter name: float32 tensor}`` that loads strictly into ``create_model(arch)``.

    Raises:
        WeightsError: unreadable checkpoint, a missing variable, or a shape that does not fit.
    """
    prefix = find_checkpoint_prefix(ckpt_prefix)
    ckpt = TFCheckpoint(prefix)
    state: dict[str, torch.Tensor] = {}
    for name, shape in _expected_shapes(arch).items():
        tf_name = tf_variable_name(name)
        ema_name = f"{tf_name}/{EMA_SUFFIX}"
        source = ema_name if use_ema and ema_name in ckpt else tf_name
        if source not in ckpt:
            raise WeightsError(f"{prefix}: variable {tf_name} missing (is this a {arch} checkpoint?)")
        value = ckpt.read(source, verify=verify).astype(np.float32)
        if name.endswith("weight_v") and value.ndim == 4:
            value = value.transpose(3, 2, 0, 1)  # (kh, kw, in, out) -> (out, in, kh, kw)
        if tuple(value.shape) != shape:
            raise WeightsError(
                f"{prefix}: {source} has shape {tuple(value.shape)}, {arch} needs {shape} for {name}"
            )
        state[name] = torch.from_numpy(np.ascontiguousarray(value))
    return state


@register_converter("tf_ckpt")
def convert_tf_ckpt(src: Path, spec: WeightSpec) -> dict[str, torch.Tensor]:
    """Manifest converter: ``src`` is the downloaded archive (any name), a folder or a prefix."""
    src = Path(src)
    if src.is_file() and tarfile.is_tarfile(src):
        with tempfile.TemporaryDirectory(prefix="autocolor-tfckpt-") as tmp:
            prefix = extract_checkpoint_archive(src, tmp)
            return convert_pic_checkpoint(prefix, spec.arch)
    return convert_pic_checkpoint(src, spec.arch)
