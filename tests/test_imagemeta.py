"""Tests of autocolor.imagemeta: orientation, EXIF write-back, ICC -> sRGB, L*, chroma."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms
from skimage.color import rgb2lab

from autocolor import imagemeta
from autocolor.imagefile import read_photo
from autocolor.imagemeta import (
    apply_orientation,
    has_chroma,
    is_srgb_profile,
    parse_shaper,
    png_with_metadata,
    srgb_lightness,
    srgb_profile,
)

# ----------------------------------------------------------------------------- a tiny ICC writer

D50 = (0.9642, 1.0, 0.8249)
# Adobe RGB (1998) colorants, Bradford-adapted to D50 as in Adobe's profile.
ADOBE_COLORANTS = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))


def _s15(*values: float) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def _xyz(v: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(*v)


def _gamma(g: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(g * 256)) + b"\0\0"


def _desc(text: str) -> bytes:
    ascii_z = text.encode() + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_z)) + ascii_z + b"\0" * 78


def build_profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A version 2 display-class ICC profile with the given tags (PCS XYZ)."""
    start = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += struct.pack(">4sII", signature, start + len(body), len(data))
        body += data
    size = start + len(body)
    header = struct.pack(">I4sI4s4s4s", size, b"\0" * 4, 0x02100000, b"mntr", space, b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 28 + _s15(*D50) + b"\0" * 48
    return header + struct.pack(">I", len(tags)) + table + body


def rgb_profile(gamma: float, name: str = "Adobe-like RGB") -> bytes:
    curve = _gamma(gamma)
    colorants = [(sig, _xyz(c)) for sig, c in zip((b"rXYZ", b"gXYZ", b"bXYZ"), ADOBE_COLORANTS)]
    return build_profile(
        b"RGB ",
        [(b"desc", _desc(name)), (b"wtpt", _xyz(D50)), *colorants,
         (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)],
    )


def gray_profile(gamma: float) -> bytes:
    tags = [(b"desc", _desc("Gray test")), (b"wtpt", _xyz(D50)), (b"kTRC", _gamma(gamma))]
    return build_profile(b"GRAY", tags)


def cie_lightness(y: np.ndarray) -> np.ndarray:
    """L* of relative luminance, straight from the CIE definition (independent of the code)."""
    return np.where(y > 216 / 24389, 116 * np.cbrt(y) - 16, 24389 / 27 * y)


def littlecms_srgb(rgb8: np.ndarray, icc: bytes) -> np.ndarray:
    """Reference conversion to 8-bit sRGB by LittleCMS, without its 8-bit shortcuts."""
    out = ImageCms.profileToProfile(
        Image.fromarray(rgb8),
        ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB", flags=ImageCms.Flags.NOOPTIMIZE,
    )
    return np.asarray(out)


# ----------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_matches_pillow_exif_transpose(orientation: int) -> None:
    pixels = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    method = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}.get(orientation)
    expected = Image.fromarray(pixels)
    expected = np.asarray(expected.transpose(method) if method is not None else expected)
    turned = apply_orientation(pixels, orientation)
    assert turned.flags.c_contiguous
    np.testing.assert_array_equal(turned, expected)
    np.testing.assert_array_equal(apply_orientation(pixels[..., 0], orientation), expected[..., 0])


def test_read_exif_of_tiff_keeps_only_descriptive_tags(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0112] = 8
    path = tmp_path / "tagged.tif"
    Image.new("L", (16, 12), 90).save(path, exif=exif)
    with Image.open(path) as img:
        assert imagemeta.stored_orientation(img) == 8
        img.load()
        data = imagemeta.exif_to_keep(img)
    kept = Image.Exif()
    kept.load(data)
    assert kept[0x010F] == "TestCam" and kept.get(0x0112, 1) == 1
    assert 273 not in kept and 256 not in kept  # StripOffsets, ImageWidth belong to the old file


def test_exif_to_keep_resets_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2001:02:03 04:05:06"  # DateTimeOriginal in the Exif sub-IFD
    Image.new("RGB", (16, 12)).save(tmp_path / "a.jpg", exif=exif)
    with Image.open(tmp_path / "a.jpg") as img:
        img.load()
        data = imagemeta.exif_to_keep(img)
    assert data is not None and data.startswith(b"Exif\x00\x00")
    kept = Image.Exif()
    kept.load(data)
    assert kept[0x0112] == 1 and kept[0x010F] == "TestCam"
    assert kept.get_ifd(0x8769)[0x9003] == "2001:02:03 04:05:06"
    Image.new("RGB", (16, 12)).save(tmp_path / "b.jpg")
    with Image.open(tmp_path / "b.jpg") as img:
        assert imagemeta.exif_to_keep(img) is None and imagemeta.stored_orientation(img) == 1


# ----------------------------------------------------------------------------- ICC parsing


def test_parse_shaper_reads_littlecms_srgb() -> None:
    shaper = parse_shaper(srgb_profile())
    assert shaper is not None and shaper.fits("RGB") and not shaper.fits("L")
    # Colorants sum to the D50 white; the parametric curve is the sRGB transfer function.
    np.testing.assert_allclose(shaper.matrix.sum(axis=1), D50, atol=2e-3)
    x = np.linspace(0, 1, 101)
    srgb = np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    np.testing.assert_allclose(shaper.curves[0](x), srgb, atol=1e-4)


def test_curve_tables_and_parametric_types() -> None:
    table = np.array([0, 1000, 30000, 65535])
    tag = b"curv\0\0\0\0" + struct.pack(">I4H", 4, *table)
    profile = build_profile(b"GRAY", [(b"kTRC", tag)])
    curve = parse_shaper(profile).curves[0]
    expected = [0.0, (1000 + 30000) / 2 / 65535, 1.0]
    np.testing.assert_allclose(curve(np.array([0.0, 0.5, 1.0])), expected)
    # ICC type 4: y = (a x + b)^g + e for x >= d, else c x + f
    para = b"para\0\0\0\0" + struct.pack(">H2x", 4) + _s15(2.0, 0.5, 0.1, 0.25, 0.2, 0.05, 0.01)
    curve = parse_shaper(build_profile(b"GRAY", [(b"kTRC", para)])).curves[0]
    expected = [0.25 * 0.1 + 0.01, (0.4 + 0.1) ** 2 + 0.05]
    np.testing.assert_allclose(curve(np.array([0.1, 0.8])), expected, atol=1e-4)
    # ICC type 2: constant c below -b/a
    para = b"para\0\0\0\0" + struct.pack(">H2x", 2) + _s15(1.0, 1.0, -0.5, 0.125)
    curve = parse_shaper(build_profile(b"GRAY", [(b"kTRC", para)])).curves[0]
    np.testing.assert_allclose(curve(np.array([0.25, 0.75])), [0.125, 0.375], atol=1e-4)


def test_parse_shaper_rejects_broken_and_lut_profiles() -> None:
    assert parse_shaper(b"not a profile at all") is None
    assert parse_shaper(rgb_profile(2.2)[:200]) is None  # tags point past the end
    lut_tagged = build_profile(b"GRAY", [(b"kTRC", _gamma(2.2)), (b"A2B0", b"mft2" + b"\0" * 60)])
    assert parse_shaper(lut_tagged) is None


def test_is_srgb_profile() -> None:
    assert is_srgb_profile(srgb_profile())
    assert not is_srgb_profile(rgb_profile(2.2))
    assert not is_srgb_profile(gray_profile(1.0))
    # Not parsable as matrix/TRC, so the description decides.
    named = build_profile(b"RGB ", [(b"desc", _desc("sRGB IEC61966-2.1")), (b"wtpt", _xyz(D50))])
    assert is_srgb_profile(named)


# ------------------------------------------------------------------------ ICC -> sRGB lightness


def test_rgb_profile_8bit_matches_littlecms(tmp_path: Path) -> None:
    icc = rgb_profile(563 / 256)
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "adobe.png", icc_profile=icc)
    photo = read_photo(tmp_path / "adobe.png")
    assert photo.icc_profile == icc and photo.was_color
    reference = rgb2lab(littlecms_srgb(pixels, icc) / 255)[..., 0]
    # The reference is rounded to 8-bit sRGB; ours is not.
    assert np.abs(photo.lightness - reference).max() < 0.3
    ignoring_profile = rgb2lab(pixels / 255)[..., 0]
    assert np.abs(photo.lightness - ignoring_profile).max() > 2.0


def test_rgb_profile_16bit_keeps_precision(tmp_path: Path) -> None:
    icc = rgb_profile(563 / 256)
    # Top: 8-bit values stored as 16 bits (so LittleCMS can check them); bottom: a fine ramp.
    eight = np.random.default_rng(7).integers(0, 256, (32, 64, 3), dtype=np.uint8)
    ramp = np.arange(30000, 30000 + 32 * 64, dtype=np.uint16).reshape(32, 64)
    fine = np.stack([ramp, ramp // 2, ramp // 3], axis=-1)
    codes = np.concatenate([eight.astype(np.uint16) * 257, fine])
    ok, png = cv2.imencode(".png", codes[..., ::-1])
    (tmp_path / "adobe16.png").write_bytes(png_with_metadata(png.tobytes(), icc, None))
    photo = read_photo(tmp_path / "adobe16.png")
    assert photo.bit_depth == 16 and photo.icc_profile == icc
    assert np.all(np.diff(photo.lightness[32:].ravel()) > 0)  # every 16-bit step is a distinct L*
    reference = rgb2lab(littlecms_srgb(eight, icc) / 255)[..., 0]
    assert np.abs(photo.lightness[:32] - reference).max() < 0.3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_linear_gray_profile_gives_cie_lightness_of_the_codes(tmp_path: Path, dtype: type) -> None:
    top = np.iinfo(dtype).max
    gray = np.random.default_rng(2).integers(0, top + 1, (24, 24)).astype(dtype)
    Image.fromarray(gray).save(tmp_path / "gray.png", icc_profile=gray_profile(1.0))
    photo = read_photo(tmp_path / "gray.png")
    assert photo.bit_depth == (16 if dtype == np.uint16 else 8) and not photo.was_color
    np.testing.assert_allclose(photo.lightness, cie_lightness(gray / top), atol=1e-3)


def test_littlecms_fallback_for_non_matrix_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    icc = rgb_profile(1.8)
    codes = np.random.default_rng(3).integers(0, 65536, (16, 16, 3)).astype(np.uint16)
    exact, _ = srgb_lightness(codes, "RGB", icc)
    monkeypatch.setattr(imagemeta, "parse_shaper", lambda icc: None)  # as if LUT-based
    through_8_bits, was_color = srgb_lightness(codes, "RGB", icc)
    assert was_color
    assert 0 < np.abs(through_8_bits - exact).max() < 0.6


def test_unusable_or_mismatched_profile_is_ignored() -> None:
    rgb = np.random.default_rng(4).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    plain = rgb2lab(rgb / 255)[..., 0]
    for icc in (b"garbage" * 40, gray_profile(1.0)):  # unparsable; gray profile on RGB pixels
        lightness, _ = srgb_lightness(rgb, "RGB", icc)
        np.testing.assert_allclose(lightness, plain, atol=1e-3)


def test_cmyk_without_profile_uses_pillow_conversion() -> None:
    cmyk = np.zeros((8, 8, 4), dtype=np.uint8)
    cmyk[:4, :, 3] = 255  # top half black ink
    cmyk[4:, :4, 0] = 255  # bottom-left cyan
    lightness, was_color = srgb_lightness(cmyk, "CMYK", None)
    rgb = np.asarray(Image.frombytes("CMYK", (8, 8), cmyk.tobytes()).convert("RGB"))
    np.testing.assert_allclose(lightness, rgb2lab(rgb / 255)[..., 0], atol=1e-3)
    assert was_color and lightness[0, 0] < 1 and lightness[7, 7] > 99


def test_lightness_matches_skimage_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imagemeta, "_BLOCK_PIXELS", 50)  # many blocks, ragged last one
    rgb = np.random.default_rng(5).integers(0, 65536, (37, 23, 3)).astype(np.uint16)
    lightness, _ = srgb_lightness(rgb, "RGB", None)
    assert lightness.dtype == np.float32 and lightness.shape == (37, 23)
    np.testing.assert_allclose(lightness, rgb2lab(rgb / 65535)[..., 0], atol=1e-3)


def test_has_chroma_ignores_rounding_noise() -> None:
    rng = np.random.default_rng(6)
    gray = np.repeat(rng.integers(10, 240, (64, 64, 1)), 3, axis=-1)
    noisy = (gray + rng.integers(-2, 3, gray.shape)).astype(np.uint8)
    assert not has_chroma(noisy)
    coloured = noisy.copy()
    coloured[:8, :8] = (200, 40, 40)  # 1.5 % of the pixels
    assert has_chroma(coloured)
    assert has_chroma(coloured.astype(np.uint16) * 257)


def test_png_with_metadata_chunks_are_valid() -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    ok, png = cv2.imencode(".png", np.full((8, 8, 3), 40000, dtype=np.uint16))
    data = png_with_metadata(png.tobytes(), srgb_profile(), exif.tobytes())
    with Image.open(io.BytesIO(data)) as img:
        img.verify()  # checks every chunk's CRC
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        assert img.info["icc_profile"] == srgb_profile()
        assert img.getexif()[0x010F] == "TestCam"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == np.uint16 and decoded[0, 0, 0] == 40000
