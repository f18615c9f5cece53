"""Every message that names an image size prints it width first, ``W×H``, as image tools do
(:func:`upsamp.geometry.format_size`): an image 600 wide and 400 high is ``600×400`` whether
the message is a success line or an error, and whichever module raises it."""

from __future__ import annotations

import numpy as np
import pytest

from upsamp import resources
from upsamp.errors import UpsampError
from upsamp.geometry import format_size, resolve_output_size
from upsamp.indices import check_pooled_size, fit_indices, indices_from_guide
from upsamp.methods.pooling import max_pool, unpool_output_size
from upsamp.methods.transconv import transconv
from upsamp.report import downsample_mean


def test_format_size_is_width_first():
    assert format_size((400, 600)) == "600×400"
    assert format_size((400, 600, 3)) == "600×400"


def _message(call) -> str:
    with pytest.raises(UpsampError) as info:
        call()
    return str(info.value)


TALL = np.zeros((6, 4))  # 4 wide, 6 high
POSITIONS = indices_from_guide(np.zeros((12, 8, 1)), (2, 2))  # for a 4-wide, 6-high image


@pytest.mark.parametrize(
    ("call", "sizes"),
    [
        (lambda: resolve_output_size((400, 600), scale=0.0001), ["600×400"]),
        (lambda: check_pooled_size(POSITIONS, (6, 5), "idx.npz"), ["4×6", "5×6"]),
        (lambda: fit_indices(POSITIONS, (6, 5), "idx.npz"), ["4×6", "5×6"]),
        (lambda: max_pool(np.zeros((3, 1)), (2, 2)), ["1×3"]),
        (lambda: unpool_output_size((6, 4), (2, 2), (20, 8)), ["8×20", "4×6"]),
        (lambda: transconv(TALL, np.ones((3, 3)), padding=(1, 3)), ["4×6"]),
        (lambda: downsample_mean(np.zeros((7, 4)), 2), ["4×7"]),
        (lambda: resources.check_output_budget((6, 4), (600, 400), 100), ["400×600"]),
    ],
)
def test_library_messages_print_width_first(call, sizes):
    message = _message(call)
    for size in sizes:
        assert size in message, (size, message)
