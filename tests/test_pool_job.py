"""upsamp.pool_job: the pool file job as a library call, without Click."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from upsamp.errors import OutputError
from upsamp.indices import load_indices
from upsamp.pool_job import pool_file


def _write(path, array):
    Image.fromarray(array, "L").save(path)


def test_pool_file_writes_the_maxima_and_their_positions(tmp_path):
    src = np.array([[1, 9, 3, 4], [5, 6, 7, 80], [2, 0, 0, 0], [0, 30, 0, 1]], dtype=np.uint8)
    _write(tmp_path / "in.png", src)
    done = pool_file(tmp_path / "in.png", tmp_path / "out.png", tmp_path / "i.npz", (2, 2))
    assert done.pooled_shape == (2, 2)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), [[9, 80], [30, 1]])
    found = load_indices(tmp_path / "i.npz")
    assert found.stride == (2, 2) and found.input_shape == (4, 4)
    # flat positions h * W + w of each window's maximum in the 4x4 plane
    np.testing.assert_array_equal(found.flat()[:, :, 0], [[1, 7], [13, 15]])


def test_pool_file_refuses_an_existing_target_before_writing_anything(tmp_path):
    _write(tmp_path / "in.png", np.zeros((4, 4), dtype=np.uint8))
    (tmp_path / "i.npz").write_bytes(b"keep")
    with pytest.raises(OutputError, match="exists"):
        pool_file(tmp_path / "in.png", tmp_path / "out.png", tmp_path / "i.npz", (2, 2))
    assert not (tmp_path / "out.png").exists()
    assert (tmp_path / "i.npz").read_bytes() == b"keep"


def test_pool_file_refuses_to_overwrite_its_input(tmp_path):
    _write(tmp_path / "in.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(OutputError, match="input file"):
        pool_file(tmp_path / "in.png", tmp_path / "in.png", tmp_path / "i.npz", (2, 2),
                  overwrite=True)
