"""Colour arithmetic on arrays: the sRGB transfer function, premultiplied alpha, flattening.

Pure functions over ndarrays, no I/O. Values stay on the scale of their storage type
(0..255 for 8-bit images, 0..65535 for 16-bit ones): ``scale`` is that type's largest value.

Dtype rule: float32 stays float32, float64 stays float64, integers become float32 (exact for
8- and 16-bit values).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "srgb_to_linear",
    "linear_to_srgb",
    "premultiply",
    "unpremultiply",
    "flatten",
]

#: IEC 61966-2-1 constants: the linear segment below the threshold, the 2.4 power above.
_SRGB_THRESHOLD = 0.04045
_LINEAR_THRESHOLD = 0.0031308
_SLOPE = 12.92
_OFFSET = 0.055
_GAMMA = 2.4


def _as_float(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == np.float32 or arr.dtype == np.float64:
        return arr
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"values must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float32)


def _check_scale(scale: float) -> float:
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return float(scale)


def srgb_to_linear(values: np.ndarray, *, scale: float) -> np.ndarray:
    """Decode sRGB-encoded values to linear light, on the same scale.

    ``v = x / scale``; ``L = v / 12.92`` for ``v <= 0.04045``, else
    ``((v + 0.055) / 1.055) ** 2.4``; the result is ``L * scale``. Values outside
    ``[0, scale]`` are mirrored around 0 (the curve is extended as an odd function).

    Notes
    -----
    float32 stays float32, float64 stays float64, integers become float32.

    Examples
    --------
    >>> srgb_to_linear(np.array([0, 255], np.uint8), scale=255).tolist()
    [0.0, 255.0]
    """
    s = _check_scale(scale)
    x = _as_float(values)
    v = np.abs(x) / x.dtype.type(s)
    low = v / x.dtype.type(_SLOPE)
    high = ((v + x.dtype.type(_OFFSET)) / x.dtype.type(1 + _OFFSET)) ** x.dtype.type(_GAMMA)
    out = np.where(v <= _SRGB_THRESHOLD, low, high) * x.dtype.type(s)
    return np.copysign(out, x).astype(x.dtype, copy=False)


def linear_to_srgb(values: np.ndarray, *, scale: float) -> np.ndarray:
    """Encode linear-light values with the sRGB transfer function, on the same scale.

    The inverse of :func:`srgb_to_linear`: ``L = x / scale``; ``v = 12.92 L`` for
    ``L <= 0.0031308``, else ``1.055 L ** (1 / 2.4) - 0.055``; the result is ``v * scale``.

    Notes
    -----
    float32 stays float32, float64 stays float64, integers become float32.

    Examples
    --------
    >>> round(float(linear_to_srgb(np.array([0.5]), scale=1.0)[0]), 4)
    0.7354
    """
    s = _check_scale(scale)
    x = _as_float(values)
    t = x.dtype.type
    v = np.abs(x) / t(s)
    low = v * t(_SLOPE)
    high = t(1 + _OFFSET) * v ** t(1 / _GAMMA) - t(_OFFSET)
    out = np.where(v <= _LINEAR_THRESHOLD, low, high) * t(s)
    return np.copysign(out, x).astype(x.dtype, copy=False)


def _alpha_fraction(alpha: np.ndarray, alpha_max: float, dtype: np.dtype) -> np.ndarray:
    return np.asarray(alpha).astype(dtype, copy=False) / dtype.type(_check_scale(alpha_max))


def _broadcast_alpha(colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    if colour.ndim == weight.ndim + 1 and colour.shape[:-1] == weight.shape:
        return weight[..., None]
    if colour.shape != weight.shape:
        raise ValueError(
            f"alpha of shape {weight.shape} does not fit colour of shape {colour.shape}"
        )
    return weight


def premultiply(colour: np.ndarray, alpha: np.ndarray, *, alpha_max: float) -> np.ndarray:
    """Colour multiplied by opacity: ``colour * alpha / alpha_max``.

    ``colour`` is ``(H, W)`` or ``(H, W, C)``, ``alpha`` is ``(H, W)``; the result has
    ``colour``'s shape. Resampling premultiplied colour weighs each pixel's colour by how
    much of it is visible, so fully transparent pixels contribute nothing to their neighbours.

    Notes
    -----
    float32 stays float32, float64 stays float64, integers become float32.

    Examples
    --------
    >>> premultiply(np.array([[200.0]]), np.array([[51.0]]), alpha_max=255).tolist()
    [[40.0]]
    """
    c = _as_float(colour)
    a = _alpha_fraction(alpha, alpha_max, c.dtype)
    return c * _broadcast_alpha(c, a)


def unpremultiply(colour: np.ndarray, alpha: np.ndarray, *, alpha_max: float) -> np.ndarray:
    """Undo :func:`premultiply`: ``colour * alpha_max / alpha``, and 0 where ``alpha <= 0``.

    ``alpha`` is the resampled (float, unrounded) alpha, so that compositing the result over a
    background ``b``, ``c * a + b * (1 - a)``, equals ``premultiplied + b * (1 - a)`` exactly
    (up to the rounding of storage).

    Notes
    -----
    float32 stays float32, float64 stays float64, integers become float32.

    Examples
    --------
    >>> unpremultiply(np.array([[40.0, 5.0]]), np.array([[51.0, 0.0]]), alpha_max=255).tolist()
    [[200.0, 0.0]]
    """
    c = _as_float(colour)
    a = _broadcast_alpha(c, _alpha_fraction(alpha, alpha_max, c.dtype))
    visible = a > 0
    out = np.divide(
        c, a, out=np.zeros(np.broadcast_shapes(c.shape, a.shape), c.dtype), where=visible
    )
    return out


def flatten(
    colour: np.ndarray, alpha: np.ndarray, background: tuple[float, ...], *, alpha_max: float
) -> np.ndarray:
    """Composite ``colour`` with ``alpha`` over a plain ``background`` colour ("over").

    ``c * a + b * (1 - a)`` with ``a = alpha / alpha_max``; ``background`` holds one value per
    colour channel on the scale of ``colour`` (one value for ``(H, W)`` colour).

    Notes
    -----
    float32 stays float32, float64 stays float64, integers become float32.

    Examples
    --------
    >>> flatten(np.array([[255.0]]), np.array([[51.0]]), (0.0,), alpha_max=255).tolist()
    [[51.0]]
    """
    c = _as_float(colour)
    a = _broadcast_alpha(c, _alpha_fraction(alpha, alpha_max, c.dtype))
    channels = 1 if c.ndim == 2 else c.shape[-1]
    if len(background) != channels:
        raise ValueError(f"background needs {channels} value(s), got {len(background)}")
    b = np.asarray(background, dtype=c.dtype)
    if c.ndim == 2:
        b = b[0]
    return c * a + b * (c.dtype.type(1) - a)
