"""Shard partition and ``--files-from`` lists: pure functions, no images."""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path

import pytest

from autocolor.batch.shard import Shard, input_key, parse_shard, read_file_list, resolve_listed, shard_index
from autocolor.errors import UsageError

KEYS = [f"roll{r:02d}/frame {f:03d}.tif" for r in range(12) for f in range(40)]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13])
def test_shards_cover_every_key_exactly_once(count: int) -> None:
    chosen = Counter()
    for index in range(1, count + 1):
        shard = Shard(index, count)
        chosen.update(shard.select(KEYS, KEYS))
    assert chosen == Counter(KEYS)  # every key once, none twice, none lost


def test_partition_ignores_order_and_other_keys() -> None:
    shard = Shard(2, 5)
    forward = shard.select(KEYS, KEYS)
    backward = shard.select(KEYS[::-1], KEYS[::-1])
    half = KEYS[::2]
    assert sorted(forward) == sorted(backward)
    # A key's shard depends on the key alone: dropping other files moves nothing.
    assert shard.select(half, half) == [k for k in forward if k in set(half)]


def test_partition_is_a_fixed_function_of_the_key() -> None:
    # Pinned values: sha256-based, the same on every machine and Python run (not the salted
    # hash()); a change here would reshuffle the shards of running arrays.
    assert [shard_index(f"{i}.png", 10) for i in range(8)] == [9, 1, 3, 3, 2, 10, 4, 8]
    assert [shard_index(k, 7) for k in ("a.png", "sub/b.jpg", "ü/é.tif")] == [2, 6, 7]
    import hashlib

    digest = hashlib.sha256(b"1931/a.tif").digest()
    assert shard_index("1931/a.tif", 8) == int.from_bytes(digest[:8], "big") % 8 + 1
    assert shard_index("a.png", 1) == 1
    sizes = Counter(shard_index(k, 4) for k in KEYS)
    assert set(sizes) == {1, 2, 3, 4}
    assert min(sizes.values()) > len(KEYS) / 4 * 0.75  # roughly balanced


@pytest.mark.parametrize("text, expected", [("1/1", Shard(1, 1)), ("3/8", Shard(3, 8)), (" 2 / 4 ", Shard(2, 4))])
def test_parse_shard(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "3", "-1/4", "1/2/3"])
def test_parse_shard_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)


def test_input_key_is_relative_posix_and_independent_of_root_spelling(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    path = root / "1931" / "a.tif"
    assert input_key(str(path), root) == "1931/a.tif"
    assert input_key(str(path), str(root) + os.sep) == "1931/a.tif"
    assert input_key(os.path.relpath(path), os.path.relpath(root)) == "1931/a.tif"
    assert input_key("./x/../y/b.png", None) == "y/b.png"


def test_read_file_list_lines_nul_and_stdin(tmp_path: Path) -> None:
    lines = tmp_path / "list.txt"
    lines.write_bytes(b"a.png\r\nsub/b c.png\n\n d.png \n")
    assert read_file_list(lines) == ["a.png", "sub/b c.png", " d.png "]
    nul = tmp_path / "list0"
    nul.write_bytes(b"x\ny.png\0z.png\0")  # find -print0: newlines are part of names
    assert read_file_list(nul) == ["x\ny.png", "z.png"]
    assert read_file_list("-", stdin=io.BytesIO(b"q.png\n")) == ["q.png"]
    raw = tmp_path / "latin1"
    raw.write_bytes(b"caf\xe9.png\n")
    (entry,) = read_file_list(raw)
    assert os.fsencode(entry) == b"caf\xe9.png"  # undecodable names survive the round trip
    with pytest.raises(UsageError, match="--files-from .*missing"):
        read_file_list(tmp_path / "missing")


def test_resolve_listed_against_a_folder_and_without(tmp_path: Path) -> None:
    base = str(tmp_path / "src")
    inside = str(tmp_path / "src" / "deep" / "c.png")
    outside = str(tmp_path / "elsewhere.png")
    got = resolve_listed(["a/b.png", inside, outside, "../up.png"], base)
    assert got == [
        (os.path.join(base, "a/b.png"), base),
        (inside, base),
        (outside, None),
        (os.path.join(base, "../up.png"), None),
    ]
    assert [input_key(p, r) for p, r in got[:2]] == ["a/b.png", "deep/c.png"]
    assert resolve_listed(["a/b.png"], None) == [("a/b.png", os.curdir)]
