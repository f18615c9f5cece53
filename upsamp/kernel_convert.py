"""Conversions between the three learned upsamplers: transposed convolution, sub-pixel
convolution (pixel shuffle) and resize-convolution.

All three are one family. Per axis, with stride ``s``:

* A transposed convolution (kernel ``w``, padding ``p``) gives output ``q·s + r`` (phase ``r``)
  as ``sum_m x[q + a_r - m] · w[m·s + b_r]`` where ``r + p = a_r·s + b_r``: every phase is an
  ordinary correlation of the input with a few taps of ``w``, read backwards. A sub-pixel
  convolution with padding ``P`` computes ``sum_t x[q + t - P] · W_r[t]``, so the two are equal
  when ``W_r[t] = w[(P + a_r - t)·s + b_r]``: the phases are the flipped sub-filters.
* A nearest resize followed by a ``same`` convolution with ``k`` is the transposed
  convolution with ``box_s ⊛ flip(k)`` and padding ``k - 1 - (k - 1) // 2``; a bilinear resize
  likewise with the bilinear kernel (triangle, ``2s - s % 2`` taps, padding ``s // 2``) in place
  of the box, which needs the convolution's padding to repeat the edge (``edge="replicate"``):
  with zeros, the borders of a bilinear resize-convolution are not translation-invariant.
* A transposed convolution is a resize-convolution only when its kernel divides exactly by the
  resize kernel and its geometry is that of a ``same`` convolution; an arbitrary one is not.

Every function takes and returns a :class:`upsamp.kernels.Kernel` whose fields mean, per form:
transposed convolution as :func:`upsamp.transconv`; pixel shuffle: ``weight`` is
``(S²·C_out, C_in/groups, kH, kW)`` or ``(S², kH, kW)``, ``padding`` an ``(h, w)`` pair or
``"same"``, ``bias`` one value per convolution channel; resize-convolution: ``weight`` is
``(kH, kW)`` or ``(C_out, C_in/groups, kH, kW)``, ``bias`` one per output channel.

Conversion between the registered methods' kernels, and its check on a random input, is
:mod:`upsamp.kernel_conversion`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ._arrays import choice, int_pair
from .errors import KernelError
from .kernels import Kernel

__all__ = [
    "transconv_to_pixel_shuffle",
    "pixel_shuffle_to_transconv",
    "resize_conv_to_transconv",
    "transconv_to_resize_conv",
    "icnr",
    "resize_taps",
    "subpixel_kernel",
]

#: Relative size of a remainder that still counts as an exact division.
_EXACT = 1e-9


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _dilated(weight: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """``weight`` with ``d - 1`` zeros between its taps along the two last axes."""
    dh, dw = dilation
    if (dh, dw) == (1, 1):
        return np.asarray(weight, dtype=np.float64)
    kh, kw = weight.shape[-2:]
    out = np.zeros(weight.shape[:-2] + (dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    out[..., ::dh, ::dw] = weight
    return out


def _square_stride(stride: tuple[int, int]) -> int:
    if stride[0] != stride[1]:
        raise KernelError(
            f"pixel shuffle has one factor for both axes; stride {stride[0]},{stride[1]} differs"
        )
    return stride[0]


# --- transposed convolution -> sub-pixel -------------------------------------------------


def _subpixel_axis(k: int, s: int, p: int, op: int) -> tuple[int, int, np.ndarray]:
    """One axis of a transposed convolution as sub-filters: ``(P, K, source)`` with
    ``source[r, t]`` the tap of ``w`` that phase ``r`` reads at sub-filter position ``t``
    (-1: none)."""
    pairs = []  # (r, m, a_r - m, tap)
    for r in range(s):
        a, b = divmod(r + p, s)
        m = 0
        while m * s + b < k:
            pairs.append((r, a - m, m * s + b))
            m += 1
    offsets = [off for _, off, _ in pairs] or [0]
    padding = max(0, -min(offsets))
    size = max(offsets) + padding + 1
    # The convolution must give ceil(L / s) rows: H + 2P - K + 1 = H + grow.
    grow = _ceil_div(k + op - 2 * p - s, s)
    have = 2 * padding - size + 1
    if have < grow:  # more rows: one more padding row and one more (zero) tap at the start
        padding += grow - have
        size += grow - have
    elif have > grow:  # fewer rows: zero taps at the end
        size += have - grow
    source = np.full((s, size), -1, dtype=np.intp)
    for r, off, tap in pairs:
        source[r, padding + off] = tap
    return padding, size, source


def transconv_to_pixel_shuffle(kernel: Kernel) -> Kernel:
    """The sub-pixel convolution that computes ``kernel``'s transposed convolution.

    The result's output is ``S·ceil(L/S)`` per axis for the transposed convolution's ``L``;
    its first ``L`` rows and columns are the transposed convolution's (all of them when ``L``
    is a multiple of ``S``, as for every preset). A 2-D kernel gives a 3-D ``(S², K, K)``
    weight (each channel alone); a 4-D ``(C_in, C_out/g, k, k)`` one the ``Conv2d`` weight
    ``(S²·C_out, C_in/g, K, K)``.

    >>> from upsamp.kernels import preset
    >>> ps = transconv_to_pixel_shuffle(preset("bilinear", 2))
    >>> ps.weight.shape, ps.padding, ps.edge
    ((4, 3, 3), (1, 1), 'replicate')
    >>> ps.weight[0]
    array([[0.0625, 0.1875, 0.    ],
           [0.1875, 0.5625, 0.    ],
           [0.    , 0.    , 0.    ]])
    """
    s = _square_stride(kernel.stride)
    w = _dilated(kernel.weight, kernel.dilation)
    kh, kw = w.shape[-2:]
    ph, sh_, src_h = _subpixel_axis(kh, s, kernel.padding[0], kernel.output_padding[0])
    pw, sw_, src_w = _subpixel_axis(kw, s, kernel.padding[1], kernel.output_padding[1])
    lead = w.shape[:-2]
    # Gather every phase's taps; positions without a tap read a zero appended to the kernel.
    padded = np.zeros(lead + (kh + 1, kw + 1))
    padded[..., :kh, :kw] = w
    phases = np.empty((s, s) + lead + (sh_, sw_))
    for ri in range(s):
        rows = np.where(src_h[ri] >= 0, src_h[ri], kh)
        for rj in range(s):
            cols = np.where(src_w[rj] >= 0, src_w[rj], kw)
            phases[ri, rj] = padded[..., rows[:, None], cols[None, :]]
    bias = kernel.bias
    if w.ndim == 2:
        weight = phases.reshape(s * s, sh_, sw_)
        groups = None
        if bias is not None:
            b = np.atleast_1d(np.asarray(bias, dtype=np.float64))
            if np.any(b != b[0]):
                raise KernelError(
                    "a 2-D kernel with a different bias per channel has no 3-D sub-pixel form; "
                    "give a 4-D kernel"
                )
            bias = np.full(s * s, b[0])
    else:
        c_in, c_out_g = w.shape[:2]
        g = kernel.groups or 1
        c_in_g = c_in // g
        c_out = c_out_g * g
        # phases: (s, s, C_in, C_out/g, K, K) -> (C_out, s, s, C_in/g, K, K)
        weight = np.zeros((c_out, s, s, c_in_g, sh_, sw_))
        for gi in range(g):
            block = phases[:, :, gi * c_in_g : (gi + 1) * c_in_g]  # (s, s, Cin_g, Cout_g, K, K)
            weight[gi * c_out_g : (gi + 1) * c_out_g] = block.transpose(3, 0, 1, 2, 4, 5)
        weight = weight.reshape(c_out * s * s, c_in_g, sh_, sw_)
        groups = kernel.groups
        if bias is not None:
            bias = np.repeat(np.broadcast_to(np.asarray(bias, dtype=np.float64), (c_out,)), s * s)
    return _trim_subpixel(
        Kernel(
            weight=weight,
            stride=(s, s),
            padding=(ph, pw),
            groups=groups,
            bias=bias,
            edge=kernel.edge,
            name=f"{kernel.name}-pixel-shuffle",
            description=f"sub-pixel form of {kernel.name}",
            source=kernel.source,
        )
    )


def _trim_subpixel(kernel: Kernel) -> Kernel:
    """Drop all-zero first and last rows (columns) of every phase filter together with one row
    (column) of padding on each side: the same operation, a smaller kernel."""
    w = kernel.weight
    padding = list(kernel.padding)
    for axis in (0, 1):
        ax = w.ndim - 2 + axis
        while padding[axis] > 0 and w.shape[ax] > 2:
            first = np.take(w, 0, axis=ax)
            last = np.take(w, w.shape[ax] - 1, axis=ax)
            if np.any(first) or np.any(last):
                break
            w = np.take(w, np.arange(1, w.shape[ax] - 1), axis=ax)
            padding[axis] -= 1
    return replace(kernel, weight=w, padding=(padding[0], padding[1]))


# --- sub-pixel -> transposed convolution -------------------------------------------------


def _side_padding(size: int, padding: Any, axis: int) -> tuple[int, int]:
    if padding == "same":
        before = (size - 1) // 2
        return before, size - 1 - before
    p = int_pair(padding, "padding", minimum=0)[axis]
    return p, p


def _transconv_axis(size: int, s: int, before: int, after: int) -> tuple[int, int, np.ndarray]:
    """One axis of a sub-pixel convolution as a transposed convolution: ``(p, k, index)`` with
    ``index[r, t]`` the tap of the transposed kernel that phase ``r``'s tap ``t`` becomes."""
    p = max(0, (size - 1 - before) * s)
    while True:
        needed = p + (before + 1) * s
        length = s * (before + after - size + 2) + 2 * p
        if length >= needed:
            break
        p += needed - length
    r = np.arange(s)[:, None]
    t = np.arange(size)[None, :]
    return p, length, r + p + (before - t) * s


def pixel_shuffle_to_transconv(kernel: Kernel) -> Kernel:
    """The transposed convolution that computes ``kernel``'s sub-pixel convolution.

    Phase ``r``'s tap ``t`` becomes tap ``r + p + (P_before - t)·S`` of the transposed
    kernel. A bias that differs between the phases of one output channel has no transposed
    form (its bias is one value per output channel) and is refused.
    """
    s = _square_stride(kernel.stride)
    w = np.asarray(kernel.weight, dtype=np.float64)
    kh, kw = w.shape[-2:]
    ph, kth, idx_h = _transconv_axis(kh, s, *_side_padding(kh, kernel.padding, 0))
    pw, ktw, idx_w = _transconv_axis(kw, s, *_side_padding(kw, kernel.padding, 1))
    if w.ndim == 3:
        if w.shape[0] != s * s:
            raise KernelError(f"a 3-D pixel-shuffle kernel needs {s * s} phases, got {w.shape}")
        phases = w.reshape(s, s, 1, 1, kh, kw)
        c_out, groups = 1, None
    elif w.ndim == 4:
        if w.shape[0] % (s * s):
            raise KernelError(
                f"pixel-shuffle kernel has {w.shape[0]} output channels, not a multiple of "
                f"stride² = {s * s} (shape {w.shape})"
            )
        c_out = w.shape[0] // (s * s)
        phases = w.reshape(c_out, s, s, w.shape[1], kh, kw).transpose(1, 2, 0, 3, 4, 5)
        groups = kernel.groups
    else:
        raise KernelError(f"a pixel-shuffle kernel is 3-D or 4-D, got shape {w.shape}")
    g = groups or 1
    c_in_g = phases.shape[3]
    c_out_g = c_out // g
    out = np.zeros((c_in_g * g, c_out_g, kth, ktw))
    for ri in range(s):
        for rj in range(s):
            block = phases[ri, rj]  # (C_out, C_in/g, kh, kw)
            for gi in range(g):
                sub = block[gi * c_out_g : (gi + 1) * c_out_g].transpose(1, 0, 2, 3)
                out[gi * c_in_g : (gi + 1) * c_in_g][
                    :, :, idx_h[ri][:, None], idx_w[rj][None, :]
                ] = sub
    bias = kernel.bias
    if bias is not None:
        b = np.asarray(bias, dtype=np.float64)
        per_phase = np.broadcast_to(b, (c_out * s * s,)).reshape(c_out, s * s)
        if np.any(per_phase != per_phase[:, :1]):
            raise KernelError(
                "the bias differs between the phases of an output channel: a transposed "
                "convolution has one bias per output channel, so this sub-pixel convolution "
                "has no transposed form"
            )
        bias = per_phase[:, 0].copy() if w.ndim == 4 else float(per_phase[0, 0])
    weight = out[0, 0] if w.ndim == 3 else out
    return _trim_transconv(
        Kernel(
            weight=weight,
            stride=(s, s),
            padding=(ph, pw),
            groups=groups,
            bias=None if bias is None else np.atleast_1d(bias),
            edge=kernel.edge,
            name=f"{kernel.name}-transconv",
            description=f"transposed-convolution form of {kernel.name}",
            source=kernel.source,
        )
    )


def _trim_transconv(kernel: Kernel) -> Kernel:
    """The same transposed convolution with a smaller kernel: zero taps dropped from both ends
    together with one unit of padding, then zero taps at the end traded for output_padding."""
    w = kernel.weight
    padding, output_padding = list(kernel.padding), list(kernel.output_padding)
    for axis in (0, 1):
        ax = w.ndim - 2 + axis
        s = kernel.stride[axis]

        def zero(i: int, arr: np.ndarray = w, ax: int = ax) -> bool:
            return not np.any(np.take(arr, i, axis=ax))

        n = w.shape[ax]
        lead = next((i for i in range(n) if not zero(i)), n)
        trail = next((i for i in range(n) if not zero(n - 1 - i)), n)
        both = min(lead, trail, padding[axis], (n - 1) // 2)
        end_only = min(trail - both, s - 1 - output_padding[axis], n - 2 * both - 1)
        keep = np.arange(both, n - both - max(end_only, 0))
        w = np.take(w, keep, axis=ax)
        padding[axis] -= both
        output_padding[axis] += max(end_only, 0)
    return replace(
        kernel,
        weight=w,
        padding=(padding[0], padding[1]),
        output_padding=(output_padding[0], output_padding[1]),
    )


# --- resize-convolution <-> transposed convolution ---------------------------------------


def resize_taps(resize: str, s: int) -> tuple[np.ndarray, int]:
    """The 1-D transposed-convolution kernel and padding of an integer resize by ``s``.

    >>> resize_taps("nearest", 2)
    (array([1., 1.]), 0)
    >>> resize_taps("bilinear", 2)
    (array([0.25, 0.75, 0.75, 0.25]), 1)
    """
    choice(resize, "resize", ("nearest", "bilinear"))
    if resize == "nearest":
        return np.ones(s), 0
    size = 2 * s - s % 2
    t = (np.arange(size) - (size - 1) / 2) / s
    return np.maximum(0.0, 1.0 - np.abs(t)), s // 2


def _full_convolve(a: np.ndarray, taps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Full 2-D convolution of the last two axes of ``a`` with ``outer(taps[0], taps[1])``."""
    u, v = taps
    kh, kw = a.shape[-2:]
    rows = np.zeros(a.shape[:-2] + (kh + len(u) - 1, kw))
    for i, tap in enumerate(u):
        rows[..., i : i + kh, :] += tap * a
    out = np.zeros(a.shape[:-2] + (kh + len(u) - 1, kw + len(v) - 1))
    for j, tap in enumerate(v):
        out[..., :, j : j + kw] += tap * rows
    return out


def _check_resize_edge(resize: str, edge: str) -> None:
    allowed = ("zero", "replicate") if resize == "nearest" else ("replicate",)
    if edge not in allowed:
        raise KernelError(
            f"a {resize} resize-convolution with {edge} padding has no transposed-convolution "
            f"form (its borders are not those of any transposed convolution); it exists with "
            f"edge {' or '.join(allowed)}"
        )


def resize_conv_to_transconv(kernel: Kernel, resize: str = "nearest") -> Kernel:
    """The transposed convolution equal to ``resize`` by ``kernel.stride`` followed by a
    ``same`` convolution with ``kernel`` (``resize_taps ⊛ flip(k)``, see the module docstring).

    >>> k = Kernel(weight=np.array([[1., 2.], [3., 4.]]), stride=(2, 2))
    >>> tc = resize_conv_to_transconv(k)
    >>> tc.weight, tc.padding, tc.output_padding
    (array([[ 4.,  7.,  3.],
           [ 6., 10.,  4.],
           [ 2.,  3.,  1.]]), (1, 1), (1, 1))
    """
    _check_resize_edge(resize, kernel.edge)
    sh, sw = int_pair(kernel.stride, "stride", minimum=1)
    w = np.asarray(kernel.weight, dtype=np.float64)
    if w.ndim not in (2, 4):
        raise KernelError(f"a resize-convolution kernel is 2-D or 4-D, got shape {w.shape}")
    (u, pad_h), (v, pad_w) = resize_taps(resize, sh), resize_taps(resize, sw)
    kh, kw = w.shape[-2:]
    flipped = w[..., ::-1, ::-1]
    if w.ndim == 4:
        c_out, c_in_g = w.shape[:2]
        g = kernel.groups or 1
        c_out_g = c_out // g
        flipped = (
            flipped.reshape(g, c_out_g, c_in_g, kh, kw)
            .transpose(0, 2, 1, 3, 4)
            .reshape(g * c_in_g, c_out_g, kh, kw)
        )
    weight = _full_convolve(flipped, (u, v))
    padding, output_padding, extra = [], [], []
    for k, s, pad_r in ((kh, sh, pad_h), (kw, sw, pad_w)):
        padding.append(pad_r + k - 1 - (k - 1) // 2)
        op = (k - 1) % 2
        output_padding.append(op if op < s else 0)
        extra.append(0 if op < s else op)
    if any(extra):  # stride 1 with an even kernel: zero taps instead of output_padding
        weight = np.pad(weight, [(0, 0)] * (weight.ndim - 2) + [(0, extra[0]), (0, extra[1])])
    return _trim_transconv(
        Kernel(
            weight=weight,
            stride=(sh, sw),
            padding=(padding[0], padding[1]),
            output_padding=(output_padding[0], output_padding[1]),
            groups=kernel.groups if w.ndim == 4 else None,
            bias=kernel.bias,
            edge=kernel.edge,
            name=f"{kernel.name}-transconv",
            description=f"transposed-convolution form of the {resize} resize-convolution "
            f"{kernel.name}",
            source=kernel.source,
        )
    )


def _divide_axis(w: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    """Least-squares ``q`` with ``q ⊛ taps ≈ w`` along ``axis`` (exactness checked later)."""
    n = w.shape[axis]
    m = len(taps)
    if n < m:
        raise KernelError("the kernel is smaller than the resize kernel")
    matrix = np.zeros((n, n - m + 1))
    for j in range(n - m + 1):
        matrix[j : j + m, j] = taps
    moved = np.moveaxis(w, axis, -1)
    q = moved @ np.linalg.pinv(matrix).T
    return np.moveaxis(q, -1, axis)


def _trailing_zeros(w: np.ndarray, axis: int) -> int:
    """How many all-zero slices end ``w`` along ``axis``."""
    n = w.shape[axis]
    count = 0
    while count < n - 1 and not np.any(np.take(w, n - 1 - count, axis=axis)):
        count += 1
    return count


def transconv_to_resize_conv(kernel: Kernel, resize: str = "nearest") -> Kernel:
    """The resize-convolution equal to ``kernel``, when there is one.

    It exists only when the kernel is ``resize_taps ⊛ g`` exactly and the padding and
    output_padding are those :func:`resize_conv_to_transconv` gives; otherwise a
    :class:`~upsamp.errors.KernelError` says which condition fails.
    """
    _check_resize_edge(resize, kernel.edge)
    sh, sw = kernel.stride
    w = _dilated(kernel.weight, kernel.dilation)
    (u, pad_h), (v, pad_w) = resize_taps(resize, sh), resize_taps(resize, sw)
    kh, kw = w.shape[-2:]
    if kh < len(u) or kw < len(v):
        raise KernelError(
            f"this transposed convolution is no {resize} resize-convolution: its "
            f"{kh}x{kw} kernel is smaller than the {len(u)}x{len(v)} resize kernel"
        )
    # Zero taps at the end of the kernel act as output_padding: try every split, the
    # smallest kernel first.
    op_h, op_w = kernel.output_padding
    zero_h = _trailing_zeros(w, w.ndim - 2)
    zero_w = _trailing_zeros(w, w.ndim - 1)
    candidates = [
        (w[..., : kh - zh, : kw - zw], (op_h + zh, op_w + zw))
        for zh in range(min(zero_h, kh - len(u)), -1, -1)
        for zw in range(min(zero_w, kw - len(v)), -1, -1)
    ]
    for weight, output_padding in candidates:
        quotient = _divide_axis(_divide_axis(weight, u, weight.ndim - 2), v, weight.ndim - 1)
        residual = np.abs(_full_convolve(quotient, (u, v)) - weight).max()
        if residual > _EXACT * max(np.abs(weight).max(), 1e-300):
            continue
        ch, cw = quotient.shape[-2:]
        expected = (
            (pad_h + ch - 1 - (ch - 1) // 2, pad_w + cw - 1 - (cw - 1) // 2),
            ((ch - 1) % 2, (cw - 1) % 2),
        )
        if (tuple(kernel.padding), tuple(output_padding)) != expected:
            continue
        conv = quotient[..., ::-1, ::-1]
        if conv.ndim == 4:
            g = kernel.groups or 1
            c_in, c_out_g = conv.shape[:2]
            c_in_g = c_in // g
            conv = (
                conv.reshape(g, c_in_g, c_out_g, ch, cw)
                .transpose(0, 2, 1, 3, 4)
                .reshape(g * c_out_g, c_in_g, ch, cw)
            )
        return Kernel(
            weight=np.where(np.abs(conv) < _EXACT * np.abs(conv).max(), 0.0, conv),
            stride=(sh, sw),
            groups=kernel.groups if conv.ndim == 4 else None,
            bias=kernel.bias,
            edge=kernel.edge,
            name=f"{kernel.name}-resize-conv",
            description=f"{resize} resize-convolution form of {kernel.name}",
            source=kernel.source,
        )
    raise KernelError(
        f"this transposed convolution is no {resize} resize-convolution: its kernel is not the "
        f"{resize} resize kernel convolved with another kernel placed as a 'same' convolution "
        "(a resize-convolution from an arbitrary transposed convolution does not exist)"
    )


# --- ICNR and the kernels of --method pixel-shuffle ------------------------------------


def icnr(weight: np.ndarray, stride: int) -> np.ndarray:
    """ICNR (Aitken et al. 2017): every phase of the sub-pixel kernel is the same filter.

    A 2-D filter ``(k, k)`` gives ``(S², k, k)``; a ``Conv2d`` weight ``(C_out, C_in/g, k, k)``
    gives ``(S²·C_out, C_in/g, k, k)`` with channel ``c·S² + phase`` a copy of channel ``c``.
    The sub-pixel convolution is then a nearest resize of the convolution with that filter.

    >>> icnr(np.ones((1, 1)), 2).shape
    (4, 1, 1)
    """
    w = np.asarray(weight, dtype=np.float64)
    s2 = int(stride) ** 2
    if w.ndim == 2:
        return np.repeat(w[None], s2, axis=0)
    if w.ndim == 4:
        return np.repeat(w, s2, axis=0)
    raise KernelError(f"an ICNR filter is 2-D or 4-D, got shape {w.shape}")


def subpixel_kernel(
    spec: str, stride: int | tuple[int, int], *, layout: str | None = None, bias: str = "auto"
) -> Kernel:
    """The sub-pixel kernel ``--method pixel-shuffle --kernel SPEC`` names.

    * a transposed-convolution preset: its sub-pixel form (so the method equals ``--method
      transconv`` with that preset, edges included);
    * ``icnr:PRESET``: ICNR with the mean of the preset's phase filters as every phase (a
      flat image keeps its level; the output is constant over each ``S×S`` cell);
    * ``icnr:FILE``: ICNR with a convolution weight from a file, ``(k, k)`` or
      ``(C_out, C_in/g, k, k)``;
    * a kernel file: the ``Conv2d`` weight itself, padding ``same`` unless the file states one.

    ``layout`` is the layout of a file's plain 4-D array (``Conv2d``: torch ``(C_out,
    C_in/groups, kH, kW)``, keras ``Conv2D`` ``(kH, kW, C_in/groups, C_out)``, tflite
    ``CONV_2D`` ``(C_out, kH, kW, C_in/groups)``); a preset takes none. ``bias`` ``"none"``
    drops a file's bias.
    """
    from .kernels import PRESETS, load_kernel, preset

    s = int_pair(stride, "stride", minimum=1)
    text = str(spec)
    inner_text = text[len("icnr:") :] if text.startswith("icnr:") else text
    if layout is not None and inner_text in PRESETS:
        raise KernelError(
            f"--layout applies to arrays read from files, not to the preset {inner_text!r}"
        )
    if text in PRESETS:
        return transconv_to_pixel_shuffle(preset(text, s))
    if text.startswith("icnr:"):
        inner = text[len("icnr:") :]
        if inner in PRESETS:
            sub = transconv_to_pixel_shuffle(preset(inner, s))
            w = np.asarray(sub.weight)
            mean = w.mean(axis=0)
            return replace(
                sub, weight=icnr(mean, s[0]), name=text,
                description=f"ICNR: the mean phase filter of {inner} in every phase",
            )  # fmt: skip
        filt = load_kernel(inner, transposed=False, layout=layout, bias=bias)
        return Kernel(
            weight=icnr(filt.weight, _square_stride(s)), stride=s, padding="same",  # type: ignore[arg-type]
            groups=filt.groups, name=text, description=f"ICNR of {inner}", source=filt.source,
        )  # fmt: skip
    kernel = load_kernel(text, transposed=False, layout=layout, bias=bias)
    if "padding" not in kernel.stated:
        kernel = replace(kernel, padding="same")  # type: ignore[arg-type]
    if "stride" not in kernel.stated:
        kernel = replace(kernel, stride=s)
    return kernel
