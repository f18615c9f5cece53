"""``upsamp explain``: how each method computes its result, step by step.

:mod:`upsamp.explain.views` builds the views as plain data (the ``--json`` structure),
:mod:`upsamp.explain.arrays` parses small arrays typed on the command line,
:mod:`upsamp.explain.html` renders the self-contained page and :mod:`upsamp.explain.animation`
the GIF of the scatter steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ALL_VIEWS", "TRANSCONV_VIEWS", "ExplainPlan", "applicable_views"]

#: The views of a transposed convolution, in the order they are shown.
TRANSCONV_VIEWS = ("scatter", "gather", "matrix", "phases", "size")

#: Every view, in the order they are shown.
ALL_VIEWS = TRANSCONV_VIEWS + ("weights", "pool")


@dataclass(frozen=True)
class ExplainPlan:
    """What ``explain`` can show for a method (read from the registry's declarations).

    Attributes
    ----------
    views : tuple of str
        The views that apply (the default of ``--view``), in display order
        (``Method.explain_views``).
    as_transconv : callable or None
        ``as_transconv((s_h, s_w))``: the transposed-convolution kernel equal to the method
        (``Method.as_transconv``); None when it is not one.
    taps : callable or None
        ``taps((H, W), options) -> (rows, cols)``: the input indices and weights of every output
        row and column (``Method.taps``), which the ``weights`` view shows.
    """

    views: tuple[str, ...] = ()
    as_transconv: Callable[[tuple[int, int]], Any] | None = None
    taps: Callable[..., Any] | None = None


def applicable_views(method_name: str) -> ExplainPlan:
    """The views that apply to a registered method, and the transposed convolution it is.

    >>> applicable_views("bed-of-nails").as_transconv((2, 2)).weight.tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    >>> applicable_views("max-unpool").views
    ('pool',)
    """
    from ..methods import get_method

    method = get_method(method_name)
    return ExplainPlan(
        views=tuple(view for view in ALL_VIEWS if view in method.explain_views),
        as_transconv=method.as_transconv,
        taps=method.taps,
    )
