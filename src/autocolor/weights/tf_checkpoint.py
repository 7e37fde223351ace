"""Read TensorFlow (V2 "tensor bundle") checkpoints with numpy only, no TensorFlow.

A checkpoint ``<prefix>`` is ``<prefix>.index`` plus ``<prefix>.data-<shard>-of-<shards>``:

- ``.index`` is a LevelDB-style sorted table (SSTable): data blocks of prefix-compressed
  ``key -> value`` entries (restart points every few entries), an index block mapping each data
  block's last key to its ``(offset, size)`` handle, and a 48-byte footer (two handles, padding,
  magic ``0xdb4775248b80fb57``). Every block is followed by a type byte (0: uncompressed) and a
  masked CRC-32C of block + type. Keys are variable names; the empty key holds a
  ``BundleHeaderProto`` and every other value a ``BundleEntryProto`` (dtype, shape, shard, offset,
  size, masked CRC-32C of the tensor bytes), read here with a minimal protobuf decoder.
- ``.data-*`` files hold the raw tensor bytes (row-major, the header's endianness).
"""

from __future__ import annotations

import struct
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autocolor.errors import WeightsError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5

# tensorflow/core/framework/types.proto DataType -> numpy (little-endian); 14 is bfloat16.
_DTYPES: dict[int, str] = {
    1: "f4", 2: "f8", 3: "i4", 4: "u1", 5: "i2", 6: "i1", 9: "i8", 10: "?",
    17: "u2", 19: "f2", 22: "u4", 23: "u8",
}
_BFLOAT16 = 14

# ---------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli), as TensorFlow/LevelDB store it (masked).


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[n] = c
    return table


_TABLE = _crc_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _crc_bytes(state: int, data: bytes | memoryview) -> int:
    table = _TABLE_LIST
    for byte in bytes(data):
        state = table[(state ^ byte) & 0xFF] ^ (state >> 8)
    return state


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C of ``data`` (unmasked). Large inputs use a vectorised, chunk-parallel update.

    The CRC register update is affine over GF(2): processing chunk ``c`` from state ``s`` gives
    ``Z(s) ^ crc0(c)``, where ``crc0`` starts from 0 and ``Z`` is "process len(c) zero bytes".
    All ``crc0(c)`` and the 32 basis columns of ``Z`` are computed together in numpy, one byte
    position per step, then chained.
    """
    view = memoryview(data).cast("B")
    n = len(view)
    if n < 1 << 16:
        return _crc_bytes(0xFFFFFFFF, view) ^ 0xFFFFFFFF
    chunks = min(4096, n // 1024)
    length = n // chunks
    body = np.frombuffer(view, dtype=np.uint8, count=chunks * length).reshape(chunks, length)
    states = np.zeros(chunks, dtype=np.uint32)
    zero_op = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    for t in range(length):
        states = _TABLE[(states ^ body[:, t]) & 0xFF] ^ (states >> 8)
        zero_op = _TABLE[zero_op & 0xFF] ^ (zero_op >> 8)
    columns = [int(v) for v in zero_op]
    state = 0xFFFFFFFF
    for chunk_crc in states.tolist():
        shifted = 0
        bit = 0
        while state:
            if state & 1:
                shifted ^= columns[bit]
            state >>= 1
            bit += 1
        state = shifted ^ chunk_crc
    state = _crc_bytes(state, view[chunks * length :])
    return state ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB's CRC masking (stored CRCs are masked so that CRCs of CRCs stay useful)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of :func:`mask_crc`."""
    rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# Minimal protobuf and varint decoding.


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns ``(value, next position)``."""
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def parse_fields(buf: bytes) -> dict[int, list[int | bytes]]:
    """Protobuf message -> ``{field number: [values]}`` (varints/fixed as int, others as bytes)."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = read_varint(buf, pos)
            value, pos = bytes(buf[pos : pos + size]), pos + size
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf message")
        fields.setdefault(number, []).append(value)
    return fields


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _first(fields: dict[int, list[int | bytes]], number: int, default: int = 0) -> int:
    value = fields.get(number, [default])[-1]
    return int(value) if isinstance(value, int) else default


@dataclass(frozen=True)
class TensorEntry:
    """One variable of the checkpoint (a parsed ``BundleEntryProto``)."""

    name: str
    dtype: int  # TensorFlow DataType enum (1: float32)
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    masked_crc: int
    sliced: bool  # partitioned variable (not supported for reading)


def _parse_entry(name: str, value: bytes) -> TensorEntry:
    fields = parse_fields(value)
    shape: tuple[int, ...] = ()
    if 2 in fields:
        dims = parse_fields(bytes(fields[2][-1]))  # TensorShapeProto
        shape = tuple(_int64(_first(parse_fields(bytes(d)), 1)) for d in dims.get(2, []))
    return TensorEntry(
        name=name,
        dtype=_first(fields, 1),
        shape=shape,
        shard=_first(fields, 3),
        offset=_first(fields, 4),
        size=_first(fields, 5),
        masked_crc=_first(fields, 6),
        sliced=7 in fields,
    )


# ---------------------------------------------------------------------------------------------
# SSTable reading.


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 * (num_restarts + 1)
    if limit < 0:
        raise ValueError("bad block restart array")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = read_varint(block, pos)
        unshared, pos = read_varint(block, pos)
        value_len, pos = read_varint(block, pos)
        if shared > len(key) or pos + unshared + value_len > limit:
            raise ValueError("corrupt block entry")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_len]
        pos += value_len


def _handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = read_varint(buf, pos)
    size, pos = read_varint(buf, pos)
    return offset, size, pos


def _read_block(table: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(table):
        raise ValueError("block handle points past the end of the file")
    block, kind = table[offset:end], table[end]
    stored = struct.unpack_from("<I", table, end + 1)[0]
    if unmask_crc(stored) != crc32c(table[offset : end + 1]):
        raise ValueError("block checksum mismatch")
    if kind != 0:
        raise ValueError(f"compressed blocks (type {kind}) are not supported")
    return block


def read_table(table: bytes) -> Iterator[tuple[bytes, bytes]]:
    """All ``(key, value)`` pairs of an uncompressed LevelDB-format table, in key order."""
    if len(table) < FOOTER_SIZE:
        raise ValueError("file too short for a table footer")
    footer = table[-FOOTER_SIZE:]
    if int.from_bytes(footer[-8:], "little") != TABLE_MAGIC:
        raise ValueError("not a TensorFlow table (bad magic number)")
    _, _, pos = _handle(footer)  # the metaindex block: no filters in checkpoints
    index_offset, index_size, _ = _handle(footer, pos)
    for _, handle in _block_entries(_read_block(table, index_offset, index_size)):
        offset, size, _ = _handle(handle)
        yield from _block_entries(_read_block(table, offset, size))


# ---------------------------------------------------------------------------------------------
# Checkpoints.


class TFCheckpoint:
    """Variables of a TF checkpoint ``prefix`` (the path without ``.index``).

    Raises:
        WeightsError: missing files, a corrupt or unsupported index (one line naming the file).
    """

    def __init__(self, prefix: str | Path) -> None:
        self.prefix = Path(prefix)
        index = Path(f"{self.prefix}.index")
        if not index.is_file():
            raise WeightsError(f"{index}: no such TensorFlow checkpoint index")
        self.entries: dict[str, TensorEntry] = {}
        try:
            items = list(read_table(index.read_bytes()))
            if not items or items[0][0] != b"":
                raise ValueError("the bundle header entry is missing")
            header = parse_fields(items[0][1])
            for key, value in items[1:]:
                name = key.decode("utf-8")
                self.entries[name] = _parse_entry(name, value)
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            raise WeightsError(f"{index}: not a readable TensorFlow checkpoint index ({exc})") from None
        self.num_shards = max(_first(header, 1, 1), 1)
        self.byte_order = ">" if _first(header, 2) == 1 else "<"

    def names(self) -> list[str]:
        """Variable names, sorted."""
        return sorted(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def data_path(self, shard: int) -> Path:
        return Path(f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}")

    def read(self, name: str, *, verify: bool = True) -> np.ndarray:
        """The variable ``name`` as a numpy array (bfloat16 is widened to float32).

        ``verify`` checks the stored CRC-32C of the tensor bytes.
        """
        entry = self.entries.get(name)
        if entry is None:
            raise WeightsError(f"{self.prefix}: no variable {name!r} in the checkpoint")
        if entry.sliced:
            raise WeightsError(f"{self.prefix}: {name} is a partitioned variable (unsupported)")
        code = "u2" if entry.dtype == _BFLOAT16 else _DTYPES.get(entry.dtype)
        if code is None:
            raise WeightsError(f"{self.prefix}: {name} has unsupported dtype enum {entry.dtype}")
        dtype = np.dtype(self.byte_order + code)
        count = int(np.prod(entry.shape, dtype=np.int64))
        if entry.size != count * dtype.itemsize or any(d < 0 for d in entry.shape):
            raise WeightsError(f"{self.prefix}: {name} has size {entry.size} for shape {entry.shape}")
        path = self.data_path(entry.shard)
        try:
            with path.open("rb") as fh:
                fh.seek(entry.offset)
                raw = fh.read(entry.size)
        except OSError as exc:
            raise WeightsError(f"{path}: cannot read checkpoint data ({exc.strerror})") from None
        if len(raw) != entry.size:
            raise WeightsError(f"{path}: truncated checkpoint data for {name}")
        if verify and unmask_crc(entry.masked_crc) != crc32c(raw):
            raise WeightsError(f"{path}: checksum mismatch for {name} (corrupt download?)")
        array = np.frombuffer(raw, dtype=dtype).reshape(entry.shape)
        if entry.dtype == _BFLOAT16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array.astype(dtype.newbyteorder("="), copy=True)


def find_checkpoint_prefix(path: str | Path) -> Path:
    """A prefix from a prefix, an ``.index`` file, or a folder holding one checkpoint.

    In a folder, the ``checkpoint`` state file's ``model_checkpoint_path`` wins; otherwise the
    folder (searched recursively) must hold exactly one ``*.index``.
    """
    path = Path(path)
    if path.suffix == ".index" and path.is_file():
        return path.with_suffix("")
    if Path(f"{path}.index").is_file():
        return path
    if path.is_dir():
        state = path / "checkpoint"
        if state.is_file():
            for line in state.read_text(errors="replace").splitlines():
                if line.startswith("model_checkpoint_path:"):
                    named = Path(line.split(":", 1)[1].strip().strip('"'))
                    candidate = named if named.is_absolute() else path / named
                    if Path(f"{candidate}.index").is_file():
                        return candidate
                    candidate = path / named.name  # the state file often holds a stale absolute path
                    if Path(f"{candidate}.index").is_file():
                        return candidate
        indexes = sorted(path.rglob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix("")
        if len(indexes) > 1:
            raise WeightsError(f"{path}: several checkpoints ({len(indexes)} .index files); name one")
    raise WeightsError(f"{path}: no TensorFlow checkpoint (.index) found")


def extract_checkpoint_archive(archive: str | Path, dest: str | Path) -> Path:
    """Unpack a checkpoint tarball (any compression) into ``dest``; returns the prefix.

    Only regular files with plain relative names are extracted (no links, no ``..``), and only
    those a checkpoint needs (``.index``, ``.data-*``, the ``checkpoint`` state file).
    """
    archive, dest = Path(archive), Path(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                wanted = member.name.endswith(".index") or ".data-" in member.name
                wanted = wanted or (parts and parts[-1] == "checkpoint")
                if not member.isfile() or not wanted or member.name.startswith("/") or ".." in parts:
                    continue
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise WeightsError(f"{archive}: not a readable checkpoint archive ({exc})") from None
    return find_checkpoint_prefix(dest)
