"""Encoding codes: OpenCV for JPEG/PNG with metadata added by hand, Pillow for the rest."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from autocolor.imageencode import encode_codes, jpeg_with_metadata, output_layout
from autocolor.imagemeta import srgb_profile
from autocolor.photo import Photo


def photo(**changes: object) -> Photo:
    fields: dict[str, object] = dict(lightness=np.full((12, 16), 50, np.float32), bit_depth=8, format="PNG")
    fields.update(changes)
    return Photo("x.png", **fields)  # type: ignore[arg-type]


def exif_bytes() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    return b"Exif\x00\x00" + exif.tobytes()


def test_layouts_follow_the_encoder_of_each_format() -> None:
    assert output_layout("JPEG", photo()).order == "BGR" and not output_layout("JPEG", photo(alpha=np.ones((12, 16)))).alpha
    assert output_layout("PNG", photo(alpha=np.ones((12, 16)))).alpha
    assert output_layout("PNG", photo(bit_depth=16)).bits == 16 and output_layout("JPEG", photo(bit_depth=16)).bits == 8
    assert output_layout("WEBP", photo()).order == "RGB" and output_layout("TIFF", photo(bit_depth=16)).order == "BGR"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_metadata_and_pixels_survive_every_encoder(fmt: str) -> None:
    like = photo(exif=exif_bytes(), icc_profile=b"any input profile")
    layout = output_layout(fmt, like)
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 120, 40
    codes = rgb[..., ::-1] if layout.order == "BGR" else rgb
    with Image.open(io.BytesIO(b"".join(encode_codes(np.ascontiguousarray(codes), like, fmt, layout, quality=95)))) as out:
        assert out.format == fmt and out.size == (16, 12)
        assert out.info.get("icc_profile") == srgb_profile()
        assert out.getexif().get(0x010F) == "Camera maker"
        assert np.abs(np.asarray(out.convert("RGB"), np.int16) - rgb).max() <= 3  # JPEG/WebP loss only


def test_jpeg_icc_longer_than_a_segment_is_split_and_read_back() -> None:
    import cv2

    ok, jpeg = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    icc = bytes(range(256)) * 600  # 153,600 bytes: three APP2 segments
    with Image.open(io.BytesIO(jpeg_with_metadata(jpeg.tobytes(), icc, None))) as out:
        assert out.info["icc_profile"] == icc
    with pytest.raises(ValueError, match="too long"):
        jpeg_with_metadata(jpeg.tobytes(), None, b"Exif\x00\x00" + bytes(70000))
    with pytest.raises(ValueError, match="not a JPEG"):
        jpeg_with_metadata(b"PNG", None, None)
