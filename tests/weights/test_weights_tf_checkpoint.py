"""Pure-Python TF checkpoint reader: CRC-32C, tables, entries, corruption, archives."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from tf_ckpt_writer import write_checkpoint

from autocolor.errors import WeightsError
from autocolor.weights.tf_checkpoint import (
    TFCheckpoint,
    _crc_bytes,
    crc32c,
    extract_checkpoint_archive,
    find_checkpoint_prefix,
    mask_crc,
    unmask_crc,
)


def sample_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray] = {
        f"picolor_template/down_leak_{i}/conv{j}/{v}": rng.standard_normal((3, 3, 2, i + 1)).astype(np.float32)
        for i in range(1, 8)
        for j in (1, 2)
        for v in ("V", "V/ExponentialMovingAverage")
    }
    tensors["beta1_power"] = np.array(0.9, dtype=np.float32)
    tensors["bpd_rec"] = np.array(2.51, dtype=np.float64)
    tensors["global_step"] = np.array(1234567890123, dtype=np.int64)
    tensors["counts"] = np.arange(-5, 5, dtype=np.int32).reshape(2, 5)
    return tensors


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    tensors = sample_tensors()
    write_checkpoint(tmp_path / "model.ckpt", tensors, block_size=200)  # many small data blocks
    return tmp_path / "model.ckpt", tensors


def test_crc32c_known_value_and_parallel_path() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert crc32c(b"") == 0
    data = os.urandom(300_007)  # long enough for the vectorised path, with a ragged tail
    assert crc32c(data) == _crc_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    for value in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert unmask_crc(mask_crc(value)) == value
    assert mask_crc(0xE3069283) != 0xE3069283


def test_roundtrip_of_names_dtypes_and_shapes(checkpoint: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, tensors = checkpoint
    ckpt = TFCheckpoint(prefix)
    assert ckpt.names() == sorted(tensors)
    for name, value in tensors.items():
        got = ckpt.read(name)
        assert got.dtype == value.dtype and got.shape == value.shape, name
        assert np.array_equal(got, value), name
    assert ckpt.entries["picolor_template/down_leak_3/conv1/V"].shape == (3, 3, 2, 4)
    assert "global_step" in ckpt and "nope" not in ckpt


def test_corrupt_tensor_bytes_fail_the_checksum(checkpoint: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, tensors = checkpoint
    ckpt = TFCheckpoint(prefix)
    entry = ckpt.entries["counts"]
    data = Path(f"{prefix}.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[entry.offset] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="checksum mismatch for counts"):
        ckpt.read("counts")
    assert not np.array_equal(ckpt.read("counts", verify=False), tensors["counts"])


@pytest.mark.parametrize("where", ["block", "magic"])
def test_corrupt_index_is_a_weights_error(checkpoint: tuple[Path, dict[str, np.ndarray]], where: str) -> None:
    prefix, _ = checkpoint
    index = Path(f"{prefix}.index")
    raw = bytearray(index.read_bytes())
    raw[10 if where == "block" else -1] ^= 0x55
    index.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match=r"model\.ckpt\.index: not a readable TensorFlow checkpoint"):
        TFCheckpoint(prefix)


def test_missing_files_and_variables(checkpoint: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    prefix, _ = checkpoint
    with pytest.raises(WeightsError, match="no such TensorFlow checkpoint index"):
        TFCheckpoint(tmp_path / "absent")
    ckpt = TFCheckpoint(prefix)
    with pytest.raises(WeightsError, match="no variable 'nope'"):
        ckpt.read("nope")
    Path(f"{prefix}.data-00000-of-00001").unlink()
    with pytest.raises(WeightsError, match="cannot read checkpoint data"):
        ckpt.read("counts")


def test_finding_the_prefix(checkpoint: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    prefix, _ = checkpoint
    assert find_checkpoint_prefix(prefix) == prefix
    assert find_checkpoint_prefix(Path(f"{prefix}.index")) == prefix
    assert find_checkpoint_prefix(tmp_path) == prefix  # the only .index in the folder
    # A `checkpoint` state file written elsewhere names an absolute path that no longer exists.
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/train/logs/model.ckpt"\n')
    write_checkpoint(tmp_path / "older.ckpt", {"x": np.zeros(1, np.float32)})
    assert find_checkpoint_prefix(tmp_path) == prefix
    (tmp_path / "checkpoint").unlink()
    with pytest.raises(WeightsError, match="several checkpoints"):
        find_checkpoint_prefix(tmp_path)
    with pytest.raises(WeightsError, match="no TensorFlow checkpoint"):
        find_checkpoint_prefix(tmp_path / "empty")


def test_archive_extraction_skips_unsafe_members(
    checkpoint: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    prefix, tensors = checkpoint
    archive = tmp_path / "imagenet_model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for suffix in (".index", ".data-00000-of-00001"):
            tar.add(f"{prefix}{suffix}", arcname=f"imagenet/model.ckpt{suffix}")
        evil = tarfile.TarInfo("../evil.index")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
        link = tarfile.TarInfo("imagenet/link.index")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    dest = tmp_path / "out"
    found = extract_checkpoint_archive(archive, dest)
    assert found == dest / "imagenet" / "model.ckpt"
    assert not (tmp_path / "evil.index").exists() and not (dest / "imagenet" / "link.index").exists()
    assert np.array_equal(TFCheckpoint(found).read("counts"), tensors["counts"])
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(WeightsError, match="not a readable checkpoint archive"):
        extract_checkpoint_archive(tmp_path / "junk.tar.gz", tmp_path / "junk")


def test_reads_a_checkpoint_written_by_tensorflow(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    tf1 = tf.compat.v1
    graph = tf.Graph()
    values = {"picolor_template/conv_leak/V": np.arange(24, dtype=np.float32).reshape(2, 2, 2, 3),
              "bpd_rec": np.array(2.5, dtype=np.float64)}
    with graph.as_default():
        variables = [tf1.get_variable(name, initializer=value) for name, value in values.items()]
        saver = tf1.train.Saver(variables)
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            prefix = saver.save(session, str(tmp_path / "model.ckpt"))
    ckpt = TFCheckpoint(prefix)
    for name, value in values.items():
        assert np.array_equal(ckpt.read(name), value)
