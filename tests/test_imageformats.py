"""Tests of autocolor.imageformats: readable formats, why a file is not taken, the pixel limit."""

from __future__ import annotations

import pytest

from autocolor.imageformats import (
    BYTES_PER_PIXEL,
    default_max_pixels,
    magic_format,
    physical_memory,
    readable_suffixes,
    why_not_taken,
)


def test_every_pillow_decodable_photo_format_is_readable() -> None:
    suffixes = readable_suffixes()
    for suffix in (".png", ".jpg", ".jpeg", ".tif", ".webp", ".bmp", ".gif", ".pcx", ".ppm", ".pgm", ".jp2", ".tga"):
        assert suffix in suffixes, suffix
    for suffix in (".txt", ".eps", ".pdf", ".mpg", ".h5", ".mp4"):  # not images, or need outside programs
        assert suffix not in suffixes, suffix


def test_why_not_taken_gives_a_reason_for_each_left_file() -> None:
    assert why_not_taken("scan.GIF") is None
    assert why_not_taken("scan.tiff") is None
    assert why_not_taken(".DS_Store") == "hidden file"
    assert why_not_taken("._scan.jpg") == "hidden file"
    assert why_not_taken("notes.txt") == ".txt is not an image format autocolor reads"
    assert "no file extension" in str(why_not_taken("README"))


def test_default_pixel_limit_follows_the_machine_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOCOLOR_MAX_PIXELS", raising=False)
    assert default_max_pixels() == physical_memory() // 2 // BYTES_PER_PIXEL
    assert default_max_pixels() > 10_000_000  # any machine that runs the tests takes a 10 MP photo
    monkeypatch.setenv("AUTOCOLOR_MAX_PIXELS", "1_000")
    assert default_max_pixels() == 1000
    monkeypatch.setenv("AUTOCOLOR_MAX_PIXELS", "nonsense")
    assert default_max_pixels() == physical_memory() // 2 // BYTES_PER_PIXEL


def test_magic_names_the_announced_format() -> None:
    assert magic_format(b"\x89PNG\r\n\x1a\n\x00") == "PNG"
    assert magic_format(b"II*\x00\x08") == "TIFF"
    assert magic_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WebP"
    assert magic_format(b"\xff\xd8\xff\xe0") == "JPEG"
    assert magic_format(b"hello") is None
