"""Official PIC TF checkpoint -> PicNet state_dict, on checkpoints in the official layout."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from tf_ckpt_writer import write_checkpoint

from autocolor.errors import WeightsError
from autocolor.models import create_model
from autocolor.models.pic import PicConfig, PicNet
from autocolor.weights.convert import get_converter
from autocolor.weights.convert_pic import convert_pic_checkpoint, tf_variable_name
from autocolor.weights.manifest import Source, WeightSpec


def official_layout(net: PicNet, ema_offset: float = 1.0) -> dict[str, np.ndarray]:
    """What the official ``tf.train.Saver()`` writes (ameroyer/PIC main.py: every global variable):
    the template's raw variables, their ``ExponentialMovingAverage`` shadows, Adam's slots and its
    ``beta1_power`` / ``beta2_power``, and the float64 scalar summaries main.py declares."""
    tensors: dict[str, np.ndarray] = {
        "beta1_power": np.array(0.95, np.float32), "beta2_power": np.array(0.9995, np.float32),
        **{name: np.array(2.5) for name in ("bpd_rec", "rec_error", "gen_error", "gen_error_gray")},
    }  # fmt: skip
    for name, value in net.state_dict().items():
        array = value.numpy()
        if name.endswith("weight_v"):
            array = array.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> TF (kh, kw, in, out)
        tf_name = tf_variable_name(name)
        tensors[tf_name] = array
        tensors[f"{tf_name}/ExponentialMovingAverage"] = array + ema_offset
        tensors[f"{tf_name}/Adam"] = np.full_like(array, 7.0)
        tensors[f"{tf_name}/Adam_1"] = np.full_like(array, 8.0)
    return tensors


@pytest.fixture
def tiny() -> PicNet:
    torch.manual_seed(0)
    net = create_model("pic.tiny")
    assert isinstance(net, PicNet)
    return net


def test_variable_names_follow_the_official_scopes() -> None:
    assert tf_variable_name("embedding.down_leak_3.conv1.weight_v") == "picolor_template/down_leak_3/conv1/V"
    assert tf_variable_name("embedding.downscale_leak_5.weight_g") == "picolor_template/downscale_leak_5/g"
    assert tf_variable_name("pixelcnn.shortrange_down_right_2.conv_aux.bias") == (
        "picolor_template/shortrange_down_right_2/conv_aux/b"
    )
    assert tf_variable_name("pixelcnn.conv_last.weight_v") == "picolor_template/conv_last/V"
    with pytest.raises(ValueError):
        tf_variable_name("decoder.conv.weight")


def test_roundtrip_prefers_the_moving_averages(tiny: PicNet, tmp_path: Path) -> None:
    write_checkpoint(tmp_path / "model.ckpt", official_layout(tiny), block_size=1024)
    state = convert_pic_checkpoint(tmp_path / "model.ckpt", "pic.tiny")
    reference = tiny.state_dict()
    assert set(state) == set(reference)
    for name, value in reference.items():
        assert torch.equal(state[name], value + 1.0), name  # the EMA copy, transposed back
    raw = convert_pic_checkpoint(tmp_path, "pic.tiny", use_ema=False)
    assert all(torch.equal(raw[n], v) for n, v in reference.items())
    converted = create_model("pic.tiny")
    converted.load_state_dict(raw, strict=True)
    lightness, ab = torch.rand(1, 1, 32, 32) * 100, torch.randn(1, 2, 8, 8) * 20
    with torch.no_grad():
        assert torch.equal(converted(lightness, ab), tiny(lightness, ab))


def test_raw_variables_are_used_without_moving_averages(tiny: PicNet, tmp_path: Path) -> None:
    tensors = {k: v for k, v in official_layout(tiny).items() if not k.endswith("ExponentialMovingAverage")}
    write_checkpoint(tmp_path / "model.ckpt", tensors)
    state = convert_pic_checkpoint(tmp_path / "model.ckpt", "pic.tiny")
    assert torch.equal(state["pixelcnn.conv_last.weight_v"], tiny.pixelcnn.conv_last.weight_v.detach())


def test_missing_variable_and_wrong_shape(tiny: PicNet, tmp_path: Path) -> None:
    tensors = official_layout(tiny)
    name = "picolor_template/shortrange_down_1/conv2/g"
    del tensors[name], tensors[f"{name}/ExponentialMovingAverage"]
    write_checkpoint(tmp_path / "a.ckpt", tensors)
    with pytest.raises(WeightsError, match="shortrange_down_1/conv2/g missing"):
        convert_pic_checkpoint(tmp_path / "a.ckpt", "pic.tiny")
    # A tiny checkpoint is not an ImageNet one: the first kernel already disagrees.
    write_checkpoint(tmp_path / "b.ckpt", official_layout(tiny))
    with pytest.raises(WeightsError, match="pic.imagenet needs"):
        convert_pic_checkpoint(tmp_path / "b.ckpt", "pic.imagenet")


def test_manifest_converter_reads_the_official_tarball(tiny: PicNet, tmp_path: Path) -> None:
    # saver.save(sess, os.path.join(log_dir, "model.ckpt")) writes the tensor bundle, the graph
    # (.meta) and a "checkpoint" state file naming the prefix as it was given: relative to the
    # training run's working directory, not to the folder (log_dir = ./log/<date>).
    write_checkpoint(tmp_path / "model.ckpt", official_layout(tiny))
    (tmp_path / "model.ckpt.meta").write_bytes(b"\x0a\x00 MetaGraphDef, not read")
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "./log/05-10_09-14/model.ckpt"\n'
        'all_model_checkpoint_paths: "./log/05-10_09-14/model.ckpt"\n'
    )
    archive = tmp_path / "download.part"  # downloads keep a temporary name: no suffix to go by
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("model.ckpt.index", "model.ckpt.data-00000-of-00001", "model.ckpt.meta", "checkpoint"):
            tar.add(tmp_path / name, arcname=f"imagenet_model/{name}")
    source = Source(kind="url", url="http://example.invalid/imagenet_model.tar.gz")
    spec = WeightSpec(name="pic.tiny", arch="pic.tiny", sources=(source,), sha256=None,
                      bytes=archive.stat().st_size, format="tf_ckpt", licence="MIT")
    state = get_converter("tf_ckpt")(archive, spec)
    assert torch.equal(state["embedding.conv_leak.bias"], tiny.embedding.conv_leak.bias.detach() + 1.0)


def _tf_reference(
    tf: object, config: PicConfig, tensors: dict[str, np.ndarray], x: np.ndarray, gray: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """PIC's official graph structure, written with TF ops, on the given variables (NHWC)."""
    tf1 = tf.compat.v1  # type: ignore[attr-defined]

    def var(scope: str, leaf: str) -> object:
        return tf.constant(tensors[f"picolor_template/{scope}/{leaf}"])

    def conv(h: object, scope: str, stride: int = 1, dilation: int = 1, padding: str = "SAME") -> object:
        w = var(scope, "g")[None, None, None] * tf.nn.l2_normalize(var(scope, "V"), [0, 1, 2])
        if dilation > 1:
            return tf.nn.atrous_conv2d(h, w, dilation, padding) + var(scope, "b")
        return tf.nn.conv2d(h, w, [1, stride, stride, 1], padding) + var(scope, "b")

    def shifted(h: object, scope: str, right: bool) -> object:
        kh, kw = tensors[f"picolor_template/{scope}/V"].shape[:2]
        left = kw - 1 if right else (kw - 1) // 2
        h = tf.pad(h, [[0, 0], [kh - 1, 0], [left, 0 if right else (kw - 1) // 2], [0, 0]])
        return conv(h, scope, padding="VALID")

    def celu(h: object) -> object:
        return tf.nn.elu(tf.concat([h, -h], 3))

    def gated(h: object, scope: str, mode: str | None, aux: object = None, dilation: int = 1) -> object:
        def apply(t: object, name: str) -> object:
            if mode is None:
                return conv(t, f"{scope}/{name}", dilation=dilation if name == "conv1" else 1)
            return shifted(t, f"{scope}/{name}", right=mode == "right")

        c1 = apply(celu(h), "conv1")
        if aux is not None:
            c1 = c1 + apply(celu(aux), "conv_aux")
        a, b = tf.split(apply(celu(c1), "conv2"), 2, 3)
        return h + a * tf.sigmoid(b)

    with tf1.Session(graph=tf.Graph()) as session:
        g = tf.constant(gray)
        h = conv(tf.concat([g, tf.ones_like(g)], 3), "conv_leak")
        n = 0
        for s, (blocks, dilation, _, stride) in enumerate(config.embed_stages, start=1):
            for _ in range(blocks):
                n += 1
                h = gated(h, f"down_leak_{n}", None, dilation=dilation)
            h = conv(h, f"downscale_leak_{s}", stride=stride)
        emb = h
        xp = tf.constant(np.concatenate([x, np.ones_like(x[..., :1])], 3))
        down = lambda t: tf.concat([tf.zeros_like(t[:, :1]), t[:, :-1]], 1)  # noqa: E731
        right = lambda t: tf.concat([tf.zeros_like(t[:, :, :1]), t[:, :, :-1]], 2)  # noqa: E731
        u = down(shifted(xp, "conv_down", right=False))
        ul = down(shifted(xp, "conv_down_2", right=False)) + right(shifted(xp, "conv_down_right", right=True))
        for k in range(config.blocks):
            u = gated(u, f"shortrange_down_{k}", "down", aux=emb)
            ul = gated(ul, f"shortrange_down_right_{k}", "right", aux=tf.concat([u, emb], 3))
        out = conv(tf.nn.elu(ul), "conv_last")
        return tuple(session.run([out, emb]))  # type: ignore[return-value]


def test_converted_network_matches_tensorflow(tiny: PicNet, tmp_path: Path) -> None:
    # Strided TF "SAME" padding, dilations, shifts and kernel layout checked against TF itself.
    tf = pytest.importorskip("tensorflow")
    tensors = official_layout(tiny, ema_offset=0.0)
    write_checkpoint(tmp_path / "model.ckpt", tensors)
    net = create_model("pic.tiny")
    net.load_state_dict(convert_pic_checkpoint(tmp_path / "model.ckpt", "pic.tiny"), strict=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
    gray = rng.uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    params_tf, emb_tf = _tf_reference(tf, net.config, tensors, x, gray)
    with torch.no_grad():
        emb = net.embed(torch.from_numpy(gray).permute(0, 3, 1, 2) * 50 + 50)
        canvas = torch.from_numpy(np.concatenate([x, np.ones_like(x[..., :1])], 3)).permute(0, 3, 1, 2)
        params = net.pixelcnn(canvas, emb)
    assert np.allclose(emb.permute(0, 2, 3, 1).numpy(), emb_tf, atol=1e-4)
    assert np.allclose(params.permute(0, 2, 3, 1).numpy(), params_tf, atol=1e-4)
