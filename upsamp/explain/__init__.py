"""``upsamp explain``: how each method computes its result, step by step.

:mod:`upsamp.explain.views` builds the views as plain data (the ``--json`` structure),
:mod:`upsamp.explain.arrays` parses small arrays typed on the command line,
:mod:`upsamp.explain.html` renders the self-contained page and :mod:`upsamp.explain.animation`
the GIF of the scatter steps.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALL_VIEWS", "TRANSCONV_VIEWS", "ExplainPlan", "applicable_views"]

#: The views of a transposed convolution, in the order they are shown.
TRANSCONV_VIEWS = ("scatter", "gather", "matrix", "phases", "size")

#: Every view, in the order they are shown.
ALL_VIEWS = TRANSCONV_VIEWS + ("weights", "pool")


@dataclass(frozen=True)
class ExplainPlan:
    """What ``explain`` can show for a method.

    Attributes
    ----------
    views : tuple of str
        The views that apply (the default of ``--view``), in display order.
    transconv_preset : str or None
        The kernel preset (:func:`upsamp.kernels.preset`) that makes the method the transposed
        convolution it is; None for transconv itself (its kernel is ``--kernel``) and for
        methods that are not one.
    interpolation : str or None
        ``"nearest"`` or ``"linear"``: how the ``weights`` view samples the input.
    """

    views: tuple[str, ...] = ()
    transconv_preset: str | None = None
    interpolation: str | None = None


def applicable_views(method_name: str) -> ExplainPlan:
    """The views that apply to a method, and how it is a transposed convolution if it is one.

    >>> applicable_views("bed-of-nails").transconv_preset
    'bed-of-nails'
    >>> applicable_views("bilinear").views
    ('weights',)
    """
    # moves onto Method.explain_views when the registry declares it
    plans = {
        "transconv": ExplainPlan(TRANSCONV_VIEWS),
        "nearest": ExplainPlan(TRANSCONV_VIEWS + ("weights",), "nearest", "nearest"),
        "bed-of-nails": ExplainPlan(TRANSCONV_VIEWS, "bed-of-nails"),
        "bilinear": ExplainPlan(("weights",), interpolation="linear"),
        "max-unpool": ExplainPlan(("pool",)),
    }
    return plans.get(method_name, ExplainPlan())
