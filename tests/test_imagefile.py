"""Tests of autocolor.imagefile: reading, bad inputs, bit depth, alpha, metadata, atomic writes."""

from __future__ import annotations

import io
import os
import stat
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps
from skimage.color import rgb2lab

from autocolor import imagefile
from autocolor.errors import InputImageError, OutputError, UsageError
from autocolor.imagefile import (
    SUPPORTED_SUFFIXES,
    Photo,
    output_format,
    read_photo,
    same_file,
    write_photo,
)
from autocolor.imagemeta import png_with_metadata, srgb_profile

RNG = np.random.default_rng(0)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def lightness_of(rgb: np.ndarray) -> np.ndarray:
    """Reference L* of sRGB values in [0, 1], (H, W, 3) or gray (H, W)."""
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    return rgb2lab(rgb)[..., 0]


def save_16bit(path: Path, codes: np.ndarray, exif: bytes | None = None) -> Path:
    """A 16-bit PNG or TIFF from RGB(A) or gray codes, written by OpenCV (BGR order)."""
    if codes.ndim == 3:
        codes = codes[..., [2, 1, 0, 3]] if codes.shape[2] == 4 else codes[..., ::-1]
    ok, data = cv2.imencode(path.suffix, np.ascontiguousarray(codes))
    assert ok
    path.write_bytes(png_with_metadata(data.tobytes(), None, exif) if exif else data.tobytes())
    return path


def exif_with(orientation: int, make: str = "TestCam") -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    return exif


def only_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ----------------------------------------------------------------------------- bad inputs


def assert_bad(path: str | Path, *words: str, **kwargs: int) -> InputImageError:
    with pytest.raises(InputImageError) as caught:
        read_photo(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(str(path) if str(path) != "-" else "<stdin>"), message
    for word in words:
        assert word in message, message
    assert "\n" not in message
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    assert_bad(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path: Path) -> None:
    assert_bad(tmp_path, "directory")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    assert_bad(tmp_path / "empty.png", "empty")


def test_permission_denied_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.png"
    Image.new("L", (16, 16)).save(path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(imagefile, "open", refuse, raising=False)  # root can read anything
    assert_bad(path, "permission denied")


@pytest.mark.skipif(IS_ROOT or sys.platform == "win32", reason="root ignores file permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    Image.new("L", (16, 16)).save(path)
    path.chmod(0)
    try:
        assert_bad(path, "permission denied")
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_truncated_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert_bad(path, "truncated")


def test_text_renamed_png(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("these are not pixels\n" * 10)
    assert_bad(tmp_path / "notes.png", "not an image")


def test_decompression_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = (100_000).to_bytes(4, "big") * 2  # claim 100000 x 100000 pixels in IHDR
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    (tmp_path / "bomb.png").write_bytes(bytes(png))
    limit_before = Image.MAX_IMAGE_PIXELS
    from autocolor.imageformats import default_max_pixels

    assert_bad(tmp_path / "bomb.png", "100000x100000", f"{default_max_pixels():,}", "--max-pixels")
    assert Image.MAX_IMAGE_PIXELS == limit_before  # Pillow's global limit is restored


def test_max_pixels_is_ours(tmp_path: Path) -> None:
    Image.new("L", (64, 48)).save(tmp_path / "a.png")
    assert_bad(tmp_path / "a.png", "64x48", "1,000", max_pixels=1000)
    assert read_photo(tmp_path / "a.png", max_pixels=64 * 48).size == (64, 48)


@pytest.mark.parametrize("size", [(1, 1), (5, 100), (100, 7)])
def test_too_small(tmp_path: Path, size: tuple[int, int]) -> None:
    Image.new("L", size).save(tmp_path / "tiny.png")
    assert_bad(tmp_path / "tiny.png", "too small", f"{size[0]}x{size[1]}")


def test_float_tiff_is_unsupported(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((16, 16), dtype=np.float32)).save(tmp_path / "float.tif")
    assert_bad(tmp_path / "float.tif", "unsupported", "32-bit")


def test_empty_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"")))
    assert_bad("-", "empty")


# ----------------------------------------------------------------------------- pixels and colour


def test_colour_input_gives_skimage_lightness(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    photo = read_photo(tmp_path / "c.png")
    assert photo.lightness.dtype == np.float32 and photo.size == (30, 20)
    assert photo.bit_depth == 8 and photo.format == "PNG"
    assert photo.was_color and photo.alpha is None
    np.testing.assert_allclose(photo.lightness, lightness_of(rgb / 255), atol=1e-3)


def test_gray_stored_as_rgb_is_not_colour(tmp_path: Path) -> None:
    gray = RNG.integers(0, 256, (16, 16, 1), dtype=np.uint8)
    Image.fromarray(np.repeat(gray, 3, axis=-1)).save(tmp_path / "g.jpg", quality=95)
    photo = read_photo(tmp_path / "g.jpg")
    assert photo.format == "JPEG" and not photo.was_color


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_gray_reads_with_16bit_precision(tmp_path: Path, suffix: str) -> None:
    codes = (np.arange(16 * 16, dtype=np.uint16) + 40000).reshape(16, 16)  # adjacent 16-bit codes
    photo = read_photo(save_16bit(tmp_path / f"g16{suffix}", codes))
    assert photo.bit_depth == 16 and not photo.was_color
    np.testing.assert_allclose(photo.lightness, lightness_of(codes / 65535), atol=1e-3)
    assert np.all(np.diff(photo.lightness.ravel()) > 0)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_rgb_round_trip(tmp_path: Path, suffix: str) -> None:
    codes = RNG.integers(0, 65536, (12, 20, 3)).astype(np.uint16)
    photo = read_photo(save_16bit(tmp_path / f"c16{suffix}", codes))
    assert photo.bit_depth == 16 and photo.was_color
    np.testing.assert_allclose(photo.lightness, lightness_of(codes / 65535), atol=1e-3)
    out = write_photo(tmp_path / f"out{suffix}", codes / 65535, photo)
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written[..., ::-1], codes)
    # 16-bit only where the format has it
    jpeg = write_photo(tmp_path / "out.jpg", codes / 65535, photo)
    assert Image.open(jpeg).mode == "RGB"


def test_8bit_input_gives_8bit_output(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    out = write_photo(tmp_path / "o.png", rgb / 255, read_photo(tmp_path / "c.png"))
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint8
    np.testing.assert_array_equal(written[..., ::-1], rgb)


def test_rgba_alpha_restored(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (16, 24, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    photo = read_photo(tmp_path / "a.png")
    np.testing.assert_allclose(photo.alpha, rgba[..., 3] / 255, atol=1e-7)
    rgb = rgba[..., :3] / 255
    with Image.open(write_photo(tmp_path / "o.png", rgb, photo)) as out:
        assert out.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(out), rgba)
    with Image.open(write_photo(tmp_path / "o.webp", rgb, photo)) as out:
        assert out.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    with Image.open(write_photo(tmp_path / "o.jpg", rgb, photo)) as out:
        assert out.mode == "RGB"


def test_16bit_rgba_alpha_restored(tmp_path: Path) -> None:
    codes = RNG.integers(0, 65536, (10, 10, 4)).astype(np.uint16)
    photo = read_photo(save_16bit(tmp_path / "a16.png", codes))
    np.testing.assert_allclose(photo.alpha, codes[..., 3] / 65535, atol=1e-7)
    out = write_photo(tmp_path / "o.png", codes[..., :3] / 65535, photo)
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (10, 10, 4)
    np.testing.assert_array_equal(written[..., 3], codes[..., 3])


def test_gray_alpha(tmp_path: Path) -> None:
    la = RNG.integers(0, 256, (12, 12, 2), dtype=np.uint8)
    bands = [Image.fromarray(la[..., 0]), Image.fromarray(la[..., 1])]
    Image.merge("LA", bands).save(tmp_path / "la.png")
    photo = read_photo(tmp_path / "la.png")
    np.testing.assert_allclose(photo.lightness, lightness_of(la[..., 0] / 255), atol=1e-3)
    np.testing.assert_allclose(photo.alpha, la[..., 1] / 255, atol=1e-7)


def test_palette_with_transparency(tmp_path: Path) -> None:
    indices = RNG.integers(0, 3, (16, 16), dtype=np.uint8)
    img = Image.frombytes("P", (16, 16), indices.tobytes())
    img.putpalette([255, 0, 0, 0, 0, 255, 128, 128, 128])
    img.save(tmp_path / "p.png", transparency=1)  # index 1 (blue) is fully transparent
    photo = read_photo(tmp_path / "p.png")
    np.testing.assert_array_equal(photo.alpha, np.where(indices == 1, 0.0, 1.0))
    palette = np.array([[255, 0, 0], [0, 0, 255], [128, 128, 128]]) / 255
    np.testing.assert_allclose(photo.lightness, lightness_of(palette[indices]), atol=1e-3)
    assert photo.was_color


def test_cmyk_jpeg(tmp_path: Path) -> None:
    cmyk = np.zeros((32, 32, 4), dtype=np.uint8)
    cmyk[:16, :, 3] = 255  # black ink on top
    cmyk[16:, 16:, 0] = 255  # cyan bottom right; bottom left is paper white
    Image.frombytes("CMYK", (32, 32), cmyk.tobytes()).save(tmp_path / "k.jpg", quality=100)
    with Image.open(tmp_path / "k.jpg") as img:
        assert img.mode == "CMYK" and img.info.get("adobe")  # Adobe's inverted CMYK
    photo = read_photo(tmp_path / "k.jpg")
    assert photo.lightness[4, 4] < 2 and photo.lightness[24, 4] > 98
    cyan = lightness_of(np.array([[[0.0, 1.0, 1.0]]]))[0, 0]
    assert abs(photo.lightness[24, 24] - cyan) < 2
    assert photo.was_color


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_every_orientation_like_pillow(tmp_path: Path, orientation: int, suffix: str) -> None:
    gray = np.kron(RNG.integers(0, 256, (3, 5), dtype=np.uint8), np.ones((8, 8), dtype=np.uint8))
    path = tmp_path / f"o{suffix}"
    options = {"quality": 100} if suffix == ".jpg" else {}
    Image.fromarray(gray).save(path, exif=exif_with(orientation), **options)
    stored = Image.fromarray(gray)
    if suffix == ".jpg":
        with Image.open(path) as img:  # the decoded (lossy) pixels, as stored
            stored = img.copy()
    stored.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(stored)) / 255
    photo = read_photo(path)
    np.testing.assert_allclose(photo.lightness, lightness_of(expected), atol=1e-3)
    assert photo.size == (expected.shape[1], expected.shape[0])


@pytest.mark.parametrize("orientation", [2, 6, 7])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_orientation_on_16bit(tmp_path: Path, suffix: str, orientation: int) -> None:
    codes = np.zeros((16, 24, 3), dtype=np.uint16)  # W=24, H=16
    codes[0, 0] = 65535  # marker at the top-left of the stored pixels
    codes[0, 1] = 117 * 257  # and a dimmer one beside it, so flips are told apart
    path = tmp_path / f"m{suffix}"
    if suffix == ".png":
        save_16bit(path, codes, exif=exif_with(orientation).tobytes())
    else:  # Pillow cannot write 16-bit RGB TIFF: add the orientation tag to OpenCV's file
        ok, data = cv2.imencode(".tif", codes)
        path.write_bytes(_tiff_with_orientation(data.tobytes(), orientation))
    stored = Image.fromarray((codes[..., 0] // 257).astype(np.uint8))
    stored.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(stored)) / 255
    photo = read_photo(path)
    assert photo.bit_depth == 16
    assert photo.size == (expected.shape[1], expected.shape[0])
    np.testing.assert_allclose(photo.lightness, lightness_of(expected), atol=1e-3)
    if orientation == 6:  # rotated 90 degrees clockwise: the stored top-left is now top-right
        assert photo.lightness[0, 15] == pytest.approx(100, abs=1e-3)


def _tiff_with_orientation(tiff: bytes, orientation: int) -> bytes:
    """Add an Orientation entry to the first IFD by appending a rewritten IFD."""
    order = "little" if tiff[:2] == b"II" else "big"
    first = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[first : first + 2], order)
    entries = [tiff[first + 2 + 12 * i : first + 14 + 12 * i] for i in range(count)]
    entries.append((274).to_bytes(2, order) + (3).to_bytes(2, order) + (1).to_bytes(4, order)
                   + orientation.to_bytes(2, order) + b"\0\0")
    entries.sort(key=lambda e: int.from_bytes(e[:2], order))
    start = len(tiff) + (len(tiff) % 2)
    ifd = len(entries).to_bytes(2, order) + b"".join(entries) + (0).to_bytes(4, order)
    return tiff[:4] + start.to_bytes(4, order) + tiff[8:] + b"\0" * (start - len(tiff)) + ifd


def test_exif_survives_with_orientation_reset(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.jpg", exif=exif_with(6))
    photo = read_photo(tmp_path / "in.jpg")
    assert photo.size == (16, 24)
    upright = np.full((24, 16, 3), 0.5)
    for name in ("o.jpg", "o.png", "o.webp", "o.tif"):
        with Image.open(write_photo(tmp_path / name, upright, photo)) as out:
            exif = out.getexif()
            assert exif[0x010F] == "TestCam" and exif[0x0112] == 1, name
            assert out.size == (16, 24)


def test_16bit_png_keeps_exif_and_gets_srgb_profile(tmp_path: Path) -> None:
    codes = RNG.integers(0, 65536, (12, 12, 3)).astype(np.uint16)
    ok, data = cv2.imencode(".png", codes)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = png_with_metadata(data.tobytes(), icc, exif_with(3).tobytes())
    (tmp_path / "in.png").write_bytes(tagged)
    photo = read_photo(tmp_path / "in.png")
    out = write_photo(tmp_path / "out.png", codes / 65535, photo)
    with Image.open(out) as img:
        assert img.getexif()[0x0112] == 1 and img.getexif()[0x010F] == "TestCam"
        assert img.info["icc_profile"] == srgb_profile()
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_icc_tagged_input_gets_srgb_profile_untagged_stays_untagged(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    lab_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # not sRGB
    Image.fromarray(rgb).save(tmp_path / "tagged.png", icc_profile=lab_profile)
    Image.fromarray(rgb).save(tmp_path / "plain.png")
    tagged, plain = read_photo(tmp_path / "tagged.png"), read_photo(tmp_path / "plain.png")
    assert tagged.icc_profile == lab_profile and plain.icc_profile is None
    for name in ("o.png", "o.jpg", "o.tif", "o.webp"):
        with Image.open(write_photo(tmp_path / name, rgb / 255, tagged)) as out:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(out.info["icc_profile"]))
            description = ImageCms.getProfileDescription(profile)
            assert "sRGB" in description, name
        with Image.open(write_photo(tmp_path / name, rgb / 255, plain)) as out:
            assert "icc_profile" not in out.info or not out.info["icc_profile"], name


# ----------------------------------------------------------------------------- stdin / stdout


def test_stdin_and_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=95)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(buffer.getvalue())))
    photo = read_photo("-")
    assert photo.source == "-" and photo.format == "JPEG" and photo.size == (16, 12)
    stdout = SimpleNamespace(buffer=io.BytesIO())
    monkeypatch.setattr(sys, "stdout", stdout)
    assert write_photo("-", rgb / 255, photo) is None
    with Image.open(io.BytesIO(stdout.buffer.getvalue())) as out:
        assert out.format == "JPEG" and out.size == (16, 12)
    stdout.buffer.seek(0)
    stdout.buffer.truncate()
    write_photo("-", rgb / 255, photo, format="png")
    with Image.open(io.BytesIO(stdout.buffer.getvalue())) as out:
        assert out.format == "PNG"
        np.testing.assert_array_equal(np.asarray(out), rgb)
    assert only_files(tmp_path) == []


# ----------------------------------------------------------------------------- atomic writes


def make_photo(height: int = 8, width: int = 10, **changes: object) -> Photo:
    fields = dict(source="x.png", lightness=np.full((height, width), 50, np.float32), alpha=None,
                  bit_depth=8, format="PNG", exif=None, icc_profile=None, was_color=False)
    fields.update(changes)
    return Photo(**fields)  # type: ignore[arg-type]


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = write_photo(tmp_path / "out.png", np.full((8, 10, 3), 0.25), make_photo())
    assert path == tmp_path / "out.png" and only_files(tmp_path) == ["out.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_failed_write_keeps_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    destination = tmp_path / "out.png"
    destination.write_bytes(b"the previous result")
    destination.chmod(0o640)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imagefile.os, "replace", broken_replace)
    with pytest.raises(OutputError, match="No space left"):
        write_photo(destination, np.zeros((8, 10, 3)), make_photo())
    assert destination.read_bytes() == b"the previous result"
    assert only_files(tmp_path) == ["out.png"]
    monkeypatch.undo()
    write_photo(destination, np.zeros((8, 10, 3)), make_photo())
    assert stat.S_IMODE(destination.stat().st_mode) == 0o640  # replacing keeps permissions
    assert Image.open(destination).size == (10, 8)


@pytest.mark.parametrize("name", ["out.png", "out.jpg", "out.webp"])
def test_failed_encode_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("encoder error -2")

    # PNG and JPEG are encoded by OpenCV (it reports failure with False), the rest by Pillow.
    monkeypatch.setattr(Image.Image, "save", broken_save)
    monkeypatch.setattr(cv2, "imencode", lambda *args: (False, None))
    fmt = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[name.split(".")[1]]
    with pytest.raises(OutputError, match=f"cannot encode {fmt}"):
        write_photo(tmp_path / name, np.zeros((8, 10, 3)), make_photo())
    assert only_files(tmp_path) == []


def test_unwritable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_photo(tmp_path / "missing" / "out.png", np.zeros((8, 10, 3)), make_photo())
    with pytest.raises(OutputError, match="is a directory"):
        write_photo(tmp_path, np.zeros((8, 10, 3)), make_photo(), format="png")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(imagefile.tempfile, "mkstemp", refuse)  # root can write anywhere
    with pytest.raises(OutputError, match="permission denied"):
        write_photo(tmp_path / "out.png", np.zeros((8, 10, 3)), make_photo())


@pytest.mark.skipif(IS_ROOT or sys.platform == "win32", reason="root ignores directory permissions")
def test_read_only_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            write_photo(locked / "out.png", np.zeros((8, 10, 3)), make_photo())
    finally:
        locked.chmod(stat.S_IRWXU)


def test_write_checks_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        write_photo(tmp_path / "o.png", np.zeros((10, 8, 3)), make_photo())


def test_jpeg_quality(tmp_path: Path) -> None:
    rgb = RNG.random((64, 64, 3))
    best = write_photo(tmp_path / "a.jpg", rgb, make_photo(64, 64)).stat().st_size
    low = write_photo(tmp_path / "b.jpg", rgb, make_photo(64, 64), quality=40).stat().st_size
    assert low < best


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("path", "fmt", "expected"),
    [("a.png", None, "PNG"), ("a.JPG", None, "JPEG"), ("a.jpeg", None, "JPEG"),
     ("a.tif", None, "TIFF"), ("a.tiff", None, "TIFF"), ("a.webp", None, "WEBP"),
     ("a.bmp", None, "BMP"), ("a.png", "jpg", "JPEG"),
     ("a.xyz", "TIF", "TIFF"), ("-", None, "PNG"), ("-", "webp", "WEBP")],
)
def test_output_format(path: str, fmt: str | None, expected: str) -> None:
    assert output_format(path, fmt) == expected


def test_output_format_errors() -> None:
    with pytest.raises(UsageError, match="unknown output format 'gif'"):
        output_format("a.png", "gif")
    with pytest.raises(OutputError, match=r"a\.gif: unknown image extension '\.gif'"):
        output_format("a.gif", None)
    with pytest.raises(OutputError, match="no file extension"):
        output_format("result", None)
    assert output_format("-", None, default="JPEG") == "JPEG"
    assert output_format("-", None, default="GIF") == "PNG"


def test_supported_suffixes_all_have_a_format() -> None:
    assert SUPPORTED_SUFFIXES == {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
    for suffix in SUPPORTED_SUFFIXES:
        output_format(f"a{suffix}", None)


def test_bmp_round_trip(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.bmp")
    photo = read_photo(tmp_path / "a.bmp")
    assert photo.format == "BMP"
    with Image.open(write_photo(tmp_path / "b.bmp", rgb / 255, photo)) as out:
        np.testing.assert_array_equal(np.asarray(out), rgb)


def test_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    assert same_file("a.png", tmp_path / "a.png")
    assert same_file(tmp_path / "link.png", "a.png")
    assert same_file("sub/../new.png", tmp_path / "new.png")  # neither exists yet
    assert not same_file("a.png", "new.png")
    assert not same_file("-", "-")
