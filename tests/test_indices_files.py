"""Indices files: the compact form ``upsamp pool`` writes (window offsets, one byte per value)
and the PyTorch-layout int64 files of earlier versions, which stay accepted."""

from __future__ import annotations

import numpy as np
import pytest

import upsamp
from upsamp.errors import InputError
from upsamp.indices import (
    PoolIndices,
    indices_payload,
    load_indices,
    split_positions,
)
from upsamp.methods.pooling import WindowOffsets


def _guide(seed=3, shape=(7, 9, 3), levels=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, levels, size=shape).astype(np.float64)  # many ties


def _old_file(path, idx, input_shape, stride):
    np.savez(path, indices=idx.astype(np.int64), input_shape=np.array(input_shape),
             stride=np.array(stride))


def test_payload_is_compact_with_its_marker(tmp_path):
    _, idx = upsamp.max_pool(_guide(), 2)
    payload = indices_payload(PoolIndices(idx, (7, 9), (2, 2)))
    assert str(payload["format"]) == "window-offsets"
    assert "indices" not in payload and payload["offsets"].dtype == np.uint8
    rows, cols = np.divmod(idx, 9)
    np.testing.assert_array_equal(payload["offsets"], (rows % 2) * 2 + cols % 2)


def test_old_and_new_files_give_the_same_positions_and_output(tmp_path):
    guide = _guide()
    guide[0, 0, 0] = np.nan  # NaN wins its window
    _, idx = upsamp.max_pool(guide, 2)
    _old_file(tmp_path / "old.npz", idx, (7, 9), (2, 2))
    np.savez_compressed(tmp_path / "new.npz", **indices_payload(PoolIndices(idx, (7, 9), (2, 2))))
    old, new = load_indices(tmp_path / "old.npz"), load_indices(tmp_path / "new.npz")
    assert old.compact and new.compact
    np.testing.assert_array_equal(old.indices, new.indices)
    np.testing.assert_array_equal(new.flat(), idx)
    values = np.random.default_rng(4).integers(0, 256, size=idx.shape).astype(np.uint8)
    colour, alpha = split_positions(new, values.shape, False, "new.npz")
    assert isinstance(colour, WindowOffsets) and alpha is None
    ours = upsamp.max_unpool(values, colour, 2, (7, 9), keep_dtype=True)
    np.testing.assert_array_equal(ours, upsamp.max_unpool(values, idx, 2, (7, 9),
                                                          keep_dtype=True))


def test_old_file_with_indices_outside_their_windows_stays_flat(tmp_path):
    idx = np.array([[[0], [0]], [[9], [14]]])  # the second value sits in the first window
    _old_file(tmp_path / "odd.npz", idx, (4, 4), (2, 2))
    found = load_indices(tmp_path / "odd.npz")
    assert not found.compact and found.indices.dtype == np.int64
    colour, _ = split_positions(found, (2, 2), False, "odd.npz")
    assert isinstance(colour, np.ndarray)
    y = upsamp.max_unpool(np.array([[1.0, 2.0], [3.0, 4.0]]), colour, 2, (4, 4))
    assert y[0, 0] == 2  # the last write wins, as in PyTorch


def test_alpha_plane_gets_its_own_compact_positions(tmp_path):
    _, idx = upsamp.max_pool(_guide(shape=(6, 8, 4)), 2)
    np.savez(tmp_path / "i.npz", **indices_payload(PoolIndices(idx, (6, 8), (2, 2))))
    colour, alpha = split_positions(load_indices(tmp_path / "i.npz"), (3, 4, 3), True, "i.npz")
    assert isinstance(colour, WindowOffsets) and isinstance(alpha, WindowOffsets)
    assert colour.shape == (3, 4, 3) and alpha.shape == (3, 4)
    rows, cols = np.divmod(idx[:, :, 3], 8)
    np.testing.assert_array_equal(alpha.offsets, (rows % 2) * 2 + cols % 2)


def _new_file(path, offsets, **changes):
    members = {"format": np.array("window-offsets"), "offsets": offsets,
               "input_shape": np.array([4, 4]), "stride": np.array([2, 2])}
    members.update(changes)
    np.savez(path, **members)


@pytest.mark.parametrize(
    ("offsets", "changes", "match"),
    [
        (np.array([[0, 4], [1, 2]], np.uint8), {}, r"\[0, 4\)"),
        (np.array([[0, 1], [1, 2]], np.int64), {}, "uint8"),
        (np.zeros((2, 2), np.uint8), {"format": np.array("window-offsets-v9")}, "unknown"),
        (np.zeros((2, 2), np.uint8), {"format": np.array(3)}, "unknown"),
        (np.zeros((2, 2), np.uint8), {"input_shape": np.array([9, 4])}, "does not fit"),
        (np.zeros((2, 2), np.uint8), {"input_shape": np.array([3, 4])}, None),
        (np.array([[0, 0], [2, 0]], np.uint8), {"input_shape": np.array([3, 4])}, "outside"),
    ],
)
def test_malformed_compact_files_are_refused_in_one_message(tmp_path, offsets, changes, match):
    _new_file(tmp_path / "i.npz", offsets, **changes)
    if match is None:  # a cut last window whose maxima lie inside: accepted
        assert load_indices(tmp_path / "i.npz").compact
        return
    with pytest.raises(InputError, match=match) as caught:
        load_indices(tmp_path / "i.npz")
    assert "i.npz" in str(caught.value) and "\n" not in str(caught.value)


def test_compact_file_without_offsets_is_refused(tmp_path):
    np.savez(tmp_path / "i.npz", format=np.array("window-offsets"), indices=np.zeros((2, 2)),
             input_shape=np.array([4, 4]), stride=np.array([2, 2]))
    with pytest.raises(InputError, match="missing offsets"):
        load_indices(tmp_path / "i.npz")
