"""Resumable https downloads against a loopback server (Range honoured, ignored, dropped)."""

from __future__ import annotations

from pathlib import Path

import pytest
from weights_testutil import LoopbackServer

from autocolor.errors import ChecksumMismatchError
from autocolor.weights.download import DownloadError, download_url

DATA = bytes(range(256)) * 1000  # 256,000 bytes, position-dependent content


def test_plain_download(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA)
    dest = tmp_path / "d" / "f.part"
    download_url(url, dest, expected_bytes=len(DATA), progress=False)
    assert dest.read_bytes() == DATA
    assert http_server.requests_for("/f.bin") == [None]


def test_partial_file_is_resumed_with_a_range_request(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA)
    dest = tmp_path / "f.part"
    dest.write_bytes(DATA[:100_000])
    download_url(url, dest, expected_bytes=len(DATA), progress=False)
    assert dest.read_bytes() == DATA
    assert http_server.requests_for("/f.bin") == ["bytes=100000-"]


def test_server_ignoring_range_restarts_from_zero(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA, mode="ignore_range")
    dest = tmp_path / "f.part"
    dest.write_bytes(DATA[:100_000])
    download_url(url, dest, expected_bytes=len(DATA), progress=False)
    assert dest.read_bytes() == DATA  # not the first 100,000 bytes twice


def test_dropped_connection_is_resumed_in_the_same_call(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA, mode="drop_once")
    dest = tmp_path / "f.part"
    download_url(url, dest, expected_bytes=len(DATA), progress=True, label="test")
    assert dest.read_bytes() == DATA
    ranges = http_server.requests_for("/f.bin")
    assert ranges == [None, f"bytes={len(DATA) // 2}-"]


def test_repeated_drops_keep_the_part_for_the_next_run(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA, mode="drop_always")
    dest = tmp_path / "f.part"
    with pytest.raises(DownloadError, match="run again to resume"):
        download_url(url, dest, expected_bytes=len(DATA), progress=False, max_attempts=3)
    kept = dest.read_bytes()
    assert 0 < len(kept) < len(DATA) and DATA.startswith(kept)
    assert len(http_server.requests_for("/f.bin")) == 3
    http_server.routes["/f.bin"].mode = "range"
    download_url(url, dest, expected_bytes=len(DATA), progress=False)
    assert dest.read_bytes() == DATA
    assert http_server.requests_for("/f.bin")[-1] == f"bytes={len(kept)}-"


def test_http_errors_are_one_line(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA, mode="forbidden")
    with pytest.raises(DownloadError, match=r"/f\.bin: HTTP 403"):
        download_url(url, tmp_path / "f.part", progress=False)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_url(http_server.base_url + "/missing", tmp_path / "g.part", progress=False)


def test_declared_size_other_than_the_pin_is_refused(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA)
    dest = tmp_path / "f.part"
    with pytest.raises(ChecksumMismatchError) as info:
        download_url(url, dest, expected_bytes=1000, progress=False, label="toy.net")
    assert str(info.value) == (
        f"toy.net: size mismatch: expected 1,000 bytes, the server offers {len(DATA):,} (from {url})"
    )
    assert not dest.exists()


def test_complete_part_answered_416_is_accepted(http_server: LoopbackServer, tmp_path: Path) -> None:
    url = http_server.add("/f.bin", DATA)
    dest = tmp_path / "f.part"
    dest.write_bytes(DATA)
    download_url(url, dest, expected_bytes=len(DATA), progress=False)
    assert dest.read_bytes() == DATA
    assert http_server.requests_for("/f.bin") == [f"bytes={len(DATA)}-"]


def test_unreachable_host(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot connect"):
        download_url(f"http://127.0.0.1:{port}/x", tmp_path / "x.part", progress=False, timeout=5)
