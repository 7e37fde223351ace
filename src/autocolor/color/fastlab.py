"""Lab -> sRGB codes for rows of a photo, in float32 numpy/OpenCV, with L* kept out of gamut.

The full-resolution counterpart of :func:`autocolor.pipeline.lightness_ab_to_rgb` (torch, the
reference): the same formulas and constants as scikit-image's ``lab2rgb`` (those of
:mod:`autocolor.color.lab`) and the same gamut rule (a colour outside sRGB keeps its L* and hue
and loses chroma, found by bisection on a chroma scale), but written for speed on the CPU:

- every step works on a strip of rows that stays in the CPU cache, into buffers reused from
  strip to strip (no full-size temporaries, never float64);
- the CIE ``f^-1`` branch is branch-free (``cube(max(t, t0)) + line(min(t, t0)) - f^-1(t0)``,
  equal to the two-branch form because the branches meet at ``t0``);
- the XYZ -> linear RGB matrix, the white point and the output channel order are one
  ``cv2.transform`` over interleaved pixels;
- the sRGB transfer curve and the quantisation to 8 or 16-bit codes are one table look-up
  indexed by the linear value quantised to 2**16 (8-bit) or 2**20 (16-bit) steps: off by at
  most 0.03 of an output code from the exact curve, so codes match the reference's rounding
  except where a value sits on a rounding boundary (then by one code).

Out-of-gamut pixels are rare in a strip; only they go through the bisection, with the same
tolerance and number of steps as the reference.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from autocolor.color.lab import _KAPPA_SLOPE, _OFFSET, _WHITE_D65, _XYZ_FROM_RGB

# Where the two branches of f^-1 meet: f = 6/29 as CIE rounds it (f^3 = _EPSILON).
_F0 = 0.2068966
_F0_CUBE = _F0**3
# Gamut: the reference allows 1e-4 outside [0, 1] in sRGB; the same limits on linear values.
_GAMUT_TOLERANCE = 1e-4
_LINEAR_LOW = -_GAMUT_TOLERANCE / 12.92
_LINEAR_HIGH = ((1.0 + _GAMUT_TOLERANCE + 0.055) / 1.055) ** 2.4
_FLUSH_PIXELS = 1 << 13  # out-of-gamut pixels fitted together
_SCALES = 16  # chroma scales tried per round: 16 x 16 = 256 = 2**8 bisection steps
#: Output channel orders: "RGB" for Pillow, "BGR" for OpenCV's encoders.
ORDERS = ("RGB", "BGR")


@lru_cache(maxsize=4)
def _matrix(order: str) -> np.ndarray:
    """(3, 3) float32: white-scaled f^-1 values (x, y, z) -> linear R, G, B in ``order``."""
    rgb_from_xyz = np.linalg.inv(np.array(_XYZ_FROM_RGB, dtype=np.float64))
    matrix = rgb_from_xyz * np.array(_WHITE_D65)[None, :]  # the white point folded in
    return np.ascontiguousarray(matrix[::-1] if order == "BGR" else matrix, dtype=np.float32)


@lru_cache(maxsize=2)
def _encode_table(bits: int) -> tuple[np.ndarray, float]:
    """(table, steps): ``table[round(linear * steps)]`` is the sRGB code of a linear value in [0, 1]."""
    steps = (1 << 16) - 1 if bits == 8 else (1 << 20) - 1
    linear = np.arange(steps + 1, dtype=np.float64) / steps
    srgb = np.where(linear > 0.0031308, 1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055, 12.92 * linear)
    top = (1 << bits) - 1
    table = np.rint(np.clip(srgb, 0.0, 1.0) * top).astype(np.uint8 if bits == 8 else np.uint16)
    return table, float(steps)


def _gather(table: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = table[index]`` for int32 indices already in range; ``out`` contiguous.

    torch's ``index_select`` (torch is loaded anyway for the network) gathers with int32
    indices at about twice the speed of numpy's ``take`` with any index type (measured
    15.7 against 34.8 ms per 12 MP x 3 channels on one core); numpy serves when the output
    is not contiguous.
    """
    if not (out.flags.c_contiguous and index.flags.c_contiguous):
        np.take(table, index, out=out)
        return
    import torch  # lazy: the colour layer stays importable without loading torch

    torch.index_select(torch.from_numpy(table), 0, torch.from_numpy(index).view(-1), out=torch.from_numpy(out).view(-1))


def _f_inverse(t: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """CIE f^-1 in place on ``t`` (float32), branch-free; ``scratch`` has ``t``'s shape."""
    if cv2.minMaxLoc(t)[0] > _F0:  # all on the cubic branch: the usual strip (L* > 8, mild colour)
        return cv2.pow(t, 3, t)
    cv2.min(t, _F0, scratch)  # the linear branch's argument
    cv2.max(t, _F0, t)  # the cubic branch's argument
    cv2.pow(t, 3, t)
    # t^3 + (min(t, F0) - OFFSET) / KAPPA - F0^3: one branch is always at its meeting value.
    cv2.scaleAdd(scratch, 1.0 / _KAPPA_SLOPE, t, t)
    cv2.add(t, -(_OFFSET / _KAPPA_SLOPE) - _F0_CUBE, t)
    return t


def lightness_tables(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fy, y)`` tables from an L* table (a photo's codes -> L*): ``(L* + 16) / 116`` and the
    luminance ``f^-1(fy)``, computed by the same operations as :meth:`LabRowsEncoder.encode`."""
    lightness = np.ascontiguousarray(table, dtype=np.float32).reshape(1, -1)
    fy = cv2.addWeighted(lightness, 1.0 / 116.0, lightness, 0.0, 16.0 / 116.0)
    return fy.reshape(-1), _f_inverse(fy.copy(), np.empty_like(fy)).reshape(-1)


class LabRowsEncoder:
    """Turns rows of L*, a*, b* into sRGB codes; holds the scratch buffers of one strip size.

    Args:
        width: pixels per row.
        rows: the largest number of rows converted at once.
        bits: 8 or 16: the output codes' depth (uint8 / uint16).
        order: ``"RGB"`` or ``"BGR"``: channel order of the output.

    One instance per thread: the buffers are reused from call to call.
    """

    def __init__(self, width: int, rows: int, *, bits: int = 8, order: str = "RGB") -> None:
        if bits not in (8, 16) or order not in ORDERS:
            raise ValueError(f"bits must be 8 or 16 and order one of {ORDERS}; got {bits}, {order!r}")
        self.bits, self.order = bits, order
        self.matrix = _matrix(order)
        self.table, self.steps = _encode_table(bits)
        shape = (rows, width)
        self._fy, self._fx, self._fz, self._t = (np.empty(shape, np.float32) for _ in range(4))
        self._xyz = np.empty((*shape, 3), np.float32)
        self._linear = np.empty((*shape, 3), np.float32)
        self._index = np.empty((*((0, 0) if bits == 8 else shape), 3), np.intp)  # 16-bit path only
        self._index32 = np.empty((*shape, 3), np.int32)
        self._index16 = np.empty((*shape, 3) if bits == 8 else (0, 0, 3), np.uint16)
        # Out-of-gamut pixels waiting for flush(): (out view, (rows, cols), L*, a*, b*).
        self._pending: list[tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_count = 0

    def encode(
        self, lightness: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray,
        fy: np.ndarray | None = None, y: np.ndarray | None = None,
    ) -> None:
        """Write the codes of ``(R, W)`` L*, a*, b* (float32, Lab units) into ``out`` ``(R, W, 3)``.

        ``out`` has the encoder's dtype (uint8 / uint16) and may be a view into a larger image
        (e.g. the colour channels of an image with alpha); it must stay alive until
        :meth:`flush`, which finishes its out-of-gamut pixels: call it after the last strip.
        ``fy`` and ``y`` (``(L* + 16) / 116`` and the luminance ``f^-1(fy)``, from
        :func:`lightness_tables` through a photo's codes) may be given to skip computing them.
        """
        rows = lightness.shape[0]
        fx, fz, t = self._fx[:rows], self._fz[:rows], self._t[:rows]
        xyz, linear, index, index32 = self._xyz[:rows], self._linear[:rows], self._index[:rows], self._index32[:rows]
        if fy is None or y is None:
            fy, y = self._fy[:rows], None
            cv2.addWeighted(lightness, 1.0 / 116.0, lightness, 0.0, 16.0 / 116.0, fy)
        self._linear_rgb(fy, a, b, fx, fz, t, xyz, linear, y)
        low, high = cv2.minMaxLoc(linear.reshape(rows, -1))[:2]
        if low < _LINEAR_LOW or high > _LINEAR_HIGH:
            self._defer_out_of_gamut(lightness, a, b, linear, out)
        # round(linear * steps) (OpenCV rounds when it converts); mode="clip" clips the index to
        # [0, steps], which is clipping the linear value to [0, 1]. The index is widened to
        # numpy's own integer type first: take() would otherwise make a temporary copy itself
        # (measured several times slower on large outputs).
        if self.bits == 8:
            # 2**16 steps: the index fits uint16, and OpenCV's saturating conversion is the clip;
            # take() reads uint16 indices directly (a third of the cost of widening them first).
            index16, index32 = self._index16[:rows], self._index32[:rows]
            cv2.addWeighted(linear, self.steps, linear, 0.0, 0.0, index16, dtype=cv2.CV_16U)
            np.copyto(index32, index16)
            _gather(self.table, index32, out)
        else:
            cv2.addWeighted(linear, self.steps, linear, 0.0, 0.0, index32, dtype=cv2.CV_32S)
            np.copyto(index, index32)
            np.take(self.table, index, out=out, mode="clip")
        if self._pending_count >= _FLUSH_PIXELS:
            self.flush()

    def flush(self) -> None:
        """Write the codes of the out-of-gamut pixels set aside so far (call after the last strip).

        Those pixels are fitted together, a few thousand at a time, rather than strip by strip:
        they are rare, and per strip the fixed cost of the search outweighs its work.
        """
        if not self._pending:
            return
        pending, self._pending, self._pending_count = self._pending, [], 0
        pixel_l, pixel_a, pixel_b = (np.concatenate([p[i] for p in pending])[None] for i in (2, 3, 4))
        linear = self._fitted_linear(pixel_l, pixel_a, pixel_b)[0]  # (k, 3)
        index = np.rint(linear * np.float32(self.steps)).astype(np.intp)
        codes = np.take(self.table, index, mode="clip")
        start = 0
        for out, where, lightness, _, _ in pending:
            end = start + len(lightness)
            out[where] = codes[start:end]
            start = end

    def _linear_rgb(
        self, fy: np.ndarray, a: np.ndarray, b: np.ndarray, fx: np.ndarray, fz: np.ndarray, t: np.ndarray,
        xyz: np.ndarray, linear: np.ndarray, y: np.ndarray | None = None,
    ) -> None:
        cv2.scaleAdd(a, 1.0 / 500.0, fy, fx)
        cv2.scaleAdd(b, -1.0 / 200.0, fy, fz)
        cv2.max(fz, 0.0, fz)  # as scikit-image: impossible negative z is clamped first
        _f_inverse(fx, t)
        _f_inverse(fz, t)
        if y is None:
            y = _f_inverse(fy, t)  # fy is not needed any more: Y = f^-1(fy) in place
        cv2.merge((fx, y, fz), xyz)
        cv2.transform(xyz, self.matrix, linear)

    def _defer_out_of_gamut(
        self, lightness: np.ndarray, a: np.ndarray, b: np.ndarray, linear: np.ndarray, out: np.ndarray
    ) -> None:
        """Set the strip's out-of-gamut pixels aside for :meth:`flush` (their codes are rewritten)."""
        outside = cv2.inRange(linear, (_LINEAR_LOW,) * 3, (_LINEAR_HIGH,) * 3)  # 255: all three fit
        cv2.bitwise_not(outside, outside)
        # OpenCV's scan of a byte mask: about half the cost of numpy's `nonzero(mask == 0)`.
        points = cv2.findNonZero(outside)  # (k, 1, 2) (x, y), row by row; None when k = 0
        if points is None:
            return
        points = points.reshape(-1, 2)
        where = (points[:, 1], points[:, 0])
        self._pending.append((out, where, lightness[where], a[where], b[where]))
        self._pending_count += len(where[0])

    def _fitted_linear(self, pixel_l: np.ndarray, pixel_a: np.ndarray, pixel_b: np.ndarray) -> np.ndarray:
        """(1, k) out-of-gamut L*, a*, b* -> (1, k, 3) linear values with chroma scaled to fit."""
        # The reference bisects 8 times on [0, 1]: it ends on the largest multiple of 1/256
        # below 1 whose colour fits (scaling chroma towards gray stays in the gamut up to one
        # point). The same multiple is found here in two vectorised rounds of 16 scales
        # (coarse, then fine).
        low = np.zeros_like(pixel_l)
        for step in (np.float32(1.0 / _SCALES), np.float32(1.0 / _SCALES**2)):
            scales = low[..., None] + step * np.arange(_SCALES, dtype=np.float32)  # (1, k, 16)
            fits = self._fits(
                np.repeat(pixel_l, _SCALES, axis=1), (pixel_a[..., None] * scales).reshape(1, -1),
                (pixel_b[..., None] * scales).reshape(1, -1),
            ).reshape(scales.shape)
            fits[..., 0] = True  # the scale already known to fit
            # The largest scale of the round that fits (and every smaller one does).
            low = low + step * (np.cumprod(fits, axis=-1).sum(axis=-1) - 1).astype(np.float32)
        return self._pixels_linear(pixel_l, pixel_a * low, pixel_b * low)

    def _pixels_linear(self, lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(1, k) L*, a*, b* -> (1, k, 3) linear values in the encoder's order."""
        count = lightness.shape[1]
        if count == 1:  # OpenCV's bindings take a (1, 1) array for a scalar: compute two
            pad = [np.repeat(x, 2, axis=1) for x in (lightness, a, b)]
            return self._pixels_linear(*pad)[:, :1]
        fy = lightness * np.float32(1.0 / 116.0) + np.float32(16.0 / 116.0)
        fx, fz, t = (np.empty_like(fy) for _ in range(3))
        xyz = np.empty((*fy.shape, 3), np.float32)
        linear = np.empty_like(xyz)
        self._linear_rgb(fy, a, b, fx, fz, t, xyz, linear)
        return linear

    def _fits(self, lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        linear = self._pixels_linear(lightness, a, b)
        return ((linear >= _LINEAR_LOW) & (linear <= _LINEAR_HIGH)).all(axis=-1)

