"""The fast transposed-convolution engine: polyphase, separable, banded and threaded.

Notation per axis: stride ``s``, dilation ``d``, kernel length ``k``. The full scatter of an input
``x`` is ``F[f] = sum over (i, t) with f = i*s + t*d of x[i] * w[t]``. Writing ``f = q*s + r``
(``0 <= r < s``), only the taps with ``t*d ≡ r (mod s)`` reach phase ``r``, and they read
``x[q - m_t]`` with ``m_t = (t*d - r) / s``. So every output phase is a small correlation of the
input with a few taps: no zero-stuffing and no scattered writes. The buffer ``G[q, r]`` holds
the phases side by side and is exactly ``F`` when flattened (phase-major layout).

The engine computes any window ``y[o] = F[o + c]`` (``c`` = padding plus the edge-mode margin,
``F`` zero beyond its end, which is what ``output_padding`` exposes) in bands of output rows, each
band reading only the input rows it needs. Bands are independent, so they run on a thread pool
(numpy releases the GIL in its loops) and the working set of one band stays small.

Kernels that are an outer product ``w = u ⊗ v`` (every preset) run as two 1-D passes; other
depthwise kernels as one 2-D pass over the ``s_h * s_w`` phases; channel-mixing kernels as one
matrix product per band: the distinct input shifts ``(m_h, m_w)`` are stacked along the channel
axis and multiplied by a matrix holding every phase's taps, giving all phases at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..threads import run_in_bands

__all__ = ["AxisPlan", "axis_plan", "extended_take", "rank_one_factors", "full_window"]

#: Target number of output values per band (about 4 MiB of float32).
BAND_VALUES = 1 << 20


@dataclass(frozen=True)
class AxisPlan:
    """The phase structure of one axis.

    ``taps[r]`` lists ``(t, m)``: kernel index ``t`` reaches phase ``r`` reading input ``q - m``.
    ``max_shift`` is the largest ``m``.
    """

    stride: int
    taps: tuple[tuple[tuple[int, int], ...], ...]
    max_shift: int


def axis_plan(kernel_size: int, stride: int, dilation: int) -> AxisPlan:
    """Group the taps of one axis by the output phase they reach.

    >>> axis_plan(3, 2, 1).taps
    (((0, 0), (2, 1)), ((1, 0),))
    """
    taps: list[list[tuple[int, int]]] = [[] for _ in range(stride)]
    for t in range(kernel_size):
        r = (t * dilation) % stride
        taps[r].append((t, (t * dilation - r) // stride))
    max_shift = max((m for phase in taps for _, m in phase), default=0)
    return AxisPlan(stride, tuple(tuple(p) for p in taps), max_shift)


def rank_one_factors(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``(u, v)`` with ``weight == outer(u, v)`` (to rounding), or None.

    >>> u, v = rank_one_factors(np.outer([1., 2.], [3., 4., 5.]))
    >>> np.allclose(np.outer(u, v), np.outer([1., 2.], [3., 4., 5.]))
    True
    """
    w = np.asarray(weight, dtype=np.float64)
    scale = np.abs(w).max()
    if scale == 0:
        return None
    i, j = np.unravel_index(np.argmax(np.abs(w)), w.shape)
    peak = w[i, j]
    root = np.sqrt(abs(peak))
    # Candidate splits of the peak between the factors: its square root into each (exact for
    # the presets, outer products of 1-D taps whose peak is a square such as 0.75**2), or all of
    # it into u (exact for integer kernels). The first one reproducing w best is used.
    candidates = [
        (w[:, j] / root, w[i, :] / (root * np.sign(peak))),
        (w[:, j].copy(), w[i, :] / peak),
    ]
    errors = [np.abs(np.outer(u, v) - w).max() for u, v in candidates]
    best = int(np.argmin(errors))
    if errors[best] <= 1e-12 * scale:
        return candidates[best]
    return None


def _window(n_out_start: int, n_out_stop: int, origin: int, stride: int) -> tuple[int, int, int]:
    """For outputs ``[a, b)`` at full-scatter offset ``origin``: the ``q`` range ``[qa, qb)`` and
    the start of the window in the flattened phase-major buffer."""
    f0 = n_out_start + origin
    f1 = n_out_stop + origin
    qa = f0 // stride
    qb = -(-f1 // stride)
    return qa, qb, f0 - qa * stride


def extended_indices(start: int, stop: int, n: int, edge: str) -> np.ndarray | None:
    """Source indices of positions ``[start, stop)`` of an axis of length ``n`` extended beyond
    its ends: ``replicate`` repeats the edge sample, ``reflect`` mirrors without repeating it
    (period ``2(n-1)``, as ``np.pad(mode="reflect")``); ``zero`` returns None (zeros outside).

    >>> extended_indices(-2, 5, 3, "reflect").tolist()
    [2, 1, 0, 1, 2, 1, 0]
    """
    if edge == "zero":
        return None
    index = np.arange(start, stop)
    if edge == "replicate" or n == 1:
        return np.clip(index, 0, n - 1)
    period = 2 * (n - 1)
    index = np.mod(index, period)
    return np.where(index > n - 1, period - index, index)


def extended_take(
    x: np.ndarray,
    start: int,
    stop: int,
    axis: int,
    edge: str,
    dtype: np.dtype,
    zero_non_finite: bool = False,
) -> np.ndarray:
    """``x`` indexed ``[start, stop)`` along ``axis``, extended beyond ``[0, n)`` by ``edge``,
    as ``dtype`` (the input is cast one band at a time); NaN and infinities read as 0 when
    ``zero_non_finite``."""
    block = _take_finite(x, start, stop, axis, edge, dtype)
    if zero_non_finite:
        return np.where(np.isfinite(block), block, 0).astype(dtype, copy=False)
    return block


def _take_finite(
    x: np.ndarray, start: int, stop: int, axis: int, edge: str, dtype: np.dtype
) -> np.ndarray:
    n = x.shape[axis]
    if start >= 0 and stop <= n:
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, stop)
        return x[tuple(index)].astype(dtype, copy=False)
    source = extended_indices(start, stop, n, edge)
    if source is not None:
        return np.take(x, source, axis=axis).astype(dtype, copy=False)
    shape = list(x.shape)
    shape[axis] = stop - start
    out = np.zeros(shape, dtype=dtype)
    lo, hi = max(start, 0), min(stop, n)
    if hi > lo:
        src = [slice(None)] * x.ndim
        src[axis] = slice(lo, hi)
        dst = [slice(None)] * x.ndim
        dst[axis] = slice(lo - start, hi - start)
        out[tuple(dst)] = x[tuple(src)]
    return out


def _accumulate(
    view: np.ndarray, terms: list[tuple[np.ndarray, float]], scratch: np.ndarray
) -> None:
    """``view[...] = sum(src * weight)`` without temporaries beyond ``scratch``."""
    terms = [(src, wt) for src, wt in terms if wt != 0]
    if not terms:
        view[...] = 0
        return
    src, wt = terms[0]
    np.multiply(src, wt, out=view)
    for src, wt in terms[1:]:
        np.multiply(src, wt, out=scratch)
        np.add(view, scratch, out=view)


def _pass_axis(
    x: np.ndarray,
    taps: np.ndarray,
    plan: AxisPlan,
    qa: int,
    qb: int,
    axis: int,
    dtype: np.dtype,
    edge: str,
) -> np.ndarray:
    """1-D polyphase pass along ``axis`` (0 or 1) of a 3-D block; returns the phase-major buffer
    flattened along that axis (length ``(qb - qa) * s``)."""
    s, big_m = plan.stride, plan.max_shift
    block = extended_take(x, qa - big_m, qb, axis, edge, dtype)
    q = qb - qa
    if axis == 0:
        out = np.empty((q, s) + x.shape[1:], dtype=dtype)
        scratch = np.empty((q,) + x.shape[1:], dtype=dtype)
        for r in range(s):
            terms = [(block[big_m - m : big_m - m + q], taps[t]) for t, m in plan.taps[r]]
            _accumulate(out[:, r], terms, scratch)
        return out.reshape((q * s,) + x.shape[1:])
    out = np.empty((x.shape[0], q, s, x.shape[2]), dtype=dtype)
    scratch = np.empty((x.shape[0], q, x.shape[2]), dtype=dtype)
    for r in range(s):
        terms = [(block[:, big_m - m : big_m - m + q], taps[t]) for t, m in plan.taps[r]]
        _accumulate(out[:, :, r], terms, scratch)
    return out.reshape(x.shape[0], q * s, x.shape[2])


def _band_input(
    x: np.ndarray,
    plans: tuple[AxisPlan, AxisPlan],
    rows: tuple[int, int],
    cols: tuple[int, int],
    origin: tuple[int, int],
    dtype: np.dtype,
    edge: str,
    zero_non_finite: bool,
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The input block a band of outputs reads: rows ``[qa_h - M_h, qb_h)`` and columns
    ``[qa_w - M_w, qb_w)``, extended by ``edge``; with ``(qh, qw)``, the phase-major buffer's
    size, and the band's start inside that buffer."""
    ph, pw = plans
    qa_h, qb_h, start_h = _window(rows[0], rows[1], origin[0], ph.stride)
    qa_w, qb_w, start_w = _window(cols[0], cols[1], origin[1], pw.stride)
    needed_rows = extended_take(x, qa_h - ph.max_shift, qb_h, 0, edge, dtype, zero_non_finite)
    block = extended_take(needed_rows, qa_w - pw.max_shift, qb_w, 1, edge, dtype)
    return block, (qb_h - qa_h, qb_w - qa_w), (start_h, start_w)


def _band_depthwise(
    x: np.ndarray,
    w2: np.ndarray,
    plans: tuple[AxisPlan, AxisPlan],
    rows: tuple[int, int],
    cols: tuple[int, int],
    origin: tuple[int, int],
    dtype: np.dtype,
    edge: str,
    factors: tuple[np.ndarray, np.ndarray] | None,
    zero_non_finite: bool,
) -> np.ndarray:
    """Output rows ``rows`` (all columns ``cols``) of a depthwise transposed convolution;
    ``factors`` ``(u, v)`` with ``w2 = outer(u, v)`` select the two 1-D passes."""
    ph, pw = plans
    qa_h, qb_h, start_h = _window(rows[0], rows[1], origin[0], ph.stride)
    qa_w, qb_w, start_w = _window(cols[0], cols[1], origin[1], pw.stride)
    n_rows, n_cols = rows[1] - rows[0], cols[1] - cols[0]
    if factors is not None:
        # Columns first, on just the input rows this band needs; then rows, so the second and
        # larger pass writes whole contiguous rows.
        u, v = factors
        needed = extended_take(x, qa_h - ph.max_shift, qb_h, 0, edge, dtype, zero_non_finite)
        cols_done = _pass_axis(needed, v.astype(dtype), pw, qa_w, qb_w, 1, dtype, edge)
        cols_done = cols_done[:, start_w : start_w + n_cols]
        q_rows = qb_h - qa_h
        both = _pass_axis(
            cols_done, u.astype(dtype), ph, ph.max_shift, ph.max_shift + q_rows, 0, dtype, edge
        )
        return both[start_h : start_h + n_rows]
    block, (qh, qw), _ = _band_input(x, plans, rows, cols, origin, dtype, edge, zero_non_finite)
    out = np.empty((qh, ph.stride, qw, pw.stride, x.shape[2]), dtype=dtype)
    scratch = np.empty((qh, qw, x.shape[2]), dtype=dtype)
    w_cast = w2.astype(dtype)
    for rh in range(ph.stride):
        for rw in range(pw.stride):
            terms = [
                (
                    block[
                        ph.max_shift - mh : ph.max_shift - mh + qh,
                        pw.max_shift - mw : pw.max_shift - mw + qw,
                    ],
                    w_cast[th, tw],
                )
                for th, mh in ph.taps[rh]
                for tw, mw in pw.taps[rw]
            ]
            _accumulate(out[:, rh, :, rw], terms, scratch)
    flat = out.reshape(qh * ph.stride, qw * pw.stride, x.shape[2])
    return flat[start_h : start_h + n_rows, start_w : start_w + n_cols]


def _mixing_matrix(
    w4: np.ndarray, groups: int, plans: tuple[AxisPlan, AxisPlan], dtype: np.dtype
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The distinct input shifts and the ``(shifts * C_in, s_h * s_w * C_out)`` matrix."""
    ph, pw = plans
    c_in, c_out_g = w4.shape[:2]
    c_in_g = c_in // groups
    c_out = c_out_g * groups
    shifts = sorted({(mh, mw) for rh in ph.taps for _, mh in rh for rw in pw.taps for _, mw in rw})
    position = {shift: n for n, shift in enumerate(shifts)}
    matrix = np.zeros((len(shifts), c_in, ph.stride, pw.stride, c_out), dtype=np.float64)
    for rh in range(ph.stride):
        for th, mh in ph.taps[rh]:
            for rw in range(pw.stride):
                for tw, mw in pw.taps[rw]:
                    n = position[(mh, mw)]
                    for g in range(groups):
                        ci = slice(g * c_in_g, (g + 1) * c_in_g)
                        co = slice(g * c_out_g, (g + 1) * c_out_g)
                        matrix[n, ci, rh, rw, co] = w4[ci, :, th, tw]
    return shifts, matrix.reshape(len(shifts) * c_in, -1).astype(dtype)


def _band_mixing(
    x: np.ndarray,
    shifts: list[tuple[int, int]],
    matrix: np.ndarray,
    plans: tuple[AxisPlan, AxisPlan],
    rows: tuple[int, int],
    cols: tuple[int, int],
    origin: tuple[int, int],
    dtype: np.dtype,
    edge: str,
    zero_non_finite: bool,
) -> np.ndarray:
    ph, pw = plans
    block, (qh, qw), (start_h, start_w) = _band_input(
        x, plans, rows, cols, origin, dtype, edge, zero_non_finite
    )
    c_in = x.shape[2]
    stacked = np.empty((qh, qw, len(shifts) * c_in), dtype=dtype)
    for n, (mh, mw) in enumerate(shifts):
        stacked[:, :, n * c_in : (n + 1) * c_in] = block[
            ph.max_shift - mh : ph.max_shift - mh + qh, pw.max_shift - mw : pw.max_shift - mw + qw
        ]
    c_out = matrix.shape[1] // (ph.stride * pw.stride)
    phases = np.empty((qh, ph.stride, qw, pw.stride, c_out), dtype=dtype)
    per_row_phase = matrix.reshape(matrix.shape[0], ph.stride, pw.stride * c_out)
    for rh in range(ph.stride):
        # One batched product per row phase writes straight into the phase-major layout (no
        # transpose); numpy's batched matmul also avoids BLAS's own threads, which would fight
        # the band threads.
        target = phases[:, rh].reshape(qh, qw, pw.stride * c_out)
        np.matmul(stacked, np.ascontiguousarray(per_row_phase[:, rh]), out=target)
    flat = phases.reshape(qh * ph.stride, qw * pw.stride, c_out)
    return flat[start_h : start_h + rows[1] - rows[0], start_w : start_w + cols[1] - cols[0]]


def full_window(
    x: np.ndarray,
    w4: np.ndarray,
    *,
    groups: int,
    depthwise: bool,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    origin: tuple[int, int],
    out_shape: tuple[int, int],
    rows: tuple[int, int] | None = None,
    dtype: np.dtype,
    edge: str = "zero",
    threads: int | None = None,
    factors: tuple[np.ndarray, np.ndarray] | None = None,
    zero_non_finite: bool = False,
) -> np.ndarray:
    """Rows ``rows`` (default all) of ``y[o_h, o_w] = F[o_h + origin_h, o_w + origin_w]``, where
    ``F`` is the full scatter of ``x`` (``(H, W, C)``, extended beyond its borders by ``edge``:
    zeros, or edge samples repeated or mirrored) with ``w4`` (``(C_in, C_out/groups, kH,
    kW)``; for ``depthwise`` a ``(1, 1, kH, kW)`` kernel applied to every channel).

    ``factors`` ``(u, v)``, when given for a depthwise kernel ``outer(u, v)``, are used as the
    two 1-D passes (integer taps stay integers); otherwise a rank-one kernel is detected.
    ``zero_non_finite`` reads NaN and infinite input values as 0 (the caller accounts for them:
    products with zero weights and absent taps are skipped or multiplied by 0 here).
    Returns a C-contiguous ``(rows, out_w, C_out)`` array of ``dtype``.
    """
    kh, kw = w4.shape[2:]
    plans = (axis_plan(kh, stride[0], dilation[0]), axis_plan(kw, stride[1], dilation[1]))
    r0, r1 = rows if rows is not None else (0, out_shape[0])
    cols = (0, out_shape[1])
    c_out = x.shape[2] if depthwise else w4.shape[1] * groups
    out = np.empty((r1 - r0, out_shape[1], c_out), dtype=dtype)
    row_values = max(1, out_shape[1] * c_out)
    band = max(8, BAND_VALUES // row_values)
    band = math.ceil(band / stride[0]) * stride[0]
    if depthwise and factors is None:
        factors = rank_one_factors(w4[0, 0])
    if depthwise and factors is None:
        # A general depthwise kernel is fastest as a grouped channel-mixing product.
        channels = x.shape[2]
        w4 = np.broadcast_to(w4, (channels, 1) + w4.shape[2:])
        groups, depthwise = channels, False
    if depthwise:
        w2 = w4[0, 0]

        def work(a: int, b: int) -> None:
            out[a - r0 : b - r0] = _band_depthwise(
                x, w2, plans, (a, b), cols, origin, dtype, edge, factors, zero_non_finite
            )
    else:
        shifts, matrix = _mixing_matrix(w4, groups, plans, dtype)

        def work(a: int, b: int) -> None:
            out[a - r0 : b - r0] = _band_mixing(
                x, shifts, matrix, plans, (a, b), cols, origin, dtype, edge, zero_non_finite
            )

    run_in_bands(work, r0, r1, rows_per_band=band, threads=threads)
    return out
