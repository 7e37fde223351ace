"""Test-only writer of TensorFlow V2 checkpoints (``.index`` SSTable + ``.data`` shard).

Written independently of the reader under test, from the format: LevelDB table with
prefix-compressed data blocks (restart points), an index block of block handles, an empty
metaindex block and the 48-byte footer; values are serialized ``BundleHeaderProto`` /
``BundleEntryProto`` messages. Small ``block_size`` values force several data blocks.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from autocolor.weights.tf_checkpoint import crc32c, mask_crc

DTYPE_ENUM = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("int64"): 9}


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 -> two's complement, 10 bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def field_fixed32(number: int, value: int) -> bytes:
    return varint((number << 3) | 5) + struct.pack("<I", value)


def entry_proto(array: np.ndarray, offset: int, size: int, crc: int) -> bytes:
    shape = b"".join(field_bytes(2, field_varint(1, d)) for d in array.shape)
    return (
        field_varint(1, DTYPE_ENUM[array.dtype])
        + field_bytes(2, shape)
        + field_varint(4, offset)  # shard_id 0 is the default and omitted, like proto3 does
        + field_varint(5, size)
        + field_fixed32(6, crc)
    )


def header_proto() -> bytes:
    version = field_varint(1, 1)  # producer 1
    return field_varint(1, 1) + field_bytes(3, version)  # num_shards 1, LITTLE (default 0)


def _block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out = bytearray()
    restarts: list[int] = []
    previous = b""
    for n, (key, value) in enumerate(entries):
        shared = 0
        if n % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        previous = key
    restarts = restarts or [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00")))


def write_table(path: Path, items: list[tuple[bytes, bytes]], block_size: int = 4096) -> None:
    """Sorted ``items`` -> an uncompressed LevelDB-format table at ``path``."""
    out = bytearray()
    index: list[tuple[bytes, bytes]] = []
    pending: list[tuple[bytes, bytes]] = []

    def flush() -> None:
        if pending:
            block = _block(pending, restart_interval=4)
            index.append((pending[-1][0], varint(len(out)) + varint(len(block))))
            out.extend(_with_trailer(block))
            pending.clear()

    for key, value in items:
        pending.append((key, value))
        if sum(len(k) + len(v) for k, v in pending) >= block_size:
            flush()
    flush()
    meta = _block([], 1)
    meta_handle = varint(len(out)) + varint(len(meta))
    out += _with_trailer(meta)
    index_block = _block(index, restart_interval=1)
    index_handle = varint(len(out)) + varint(len(index_block))
    out += _with_trailer(index_block)
    footer = (meta_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    path.write_bytes(bytes(out + footer))


def write_checkpoint(prefix: Path, tensors: dict[str, np.ndarray], block_size: int = 4096) -> None:
    """Write ``tensors`` as the checkpoint ``prefix`` (``prefix.index`` + one data shard)."""
    data = bytearray()
    items = [(b"", header_proto())]
    for name in sorted(tensors):
        array = np.asarray(tensors[name]).copy(order="C")
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        items.append((name.encode(), entry_proto(array, len(data), len(raw), mask_crc(crc32c(raw)))))
        data += raw
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))
    write_table(Path(f"{prefix}.index"), items, block_size=block_size)
