"""``upsamp pool`` and its round trip with ``upsamp enlarge --method max-unpool``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)


def assert_one_line_error(result, code: int = 1) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("upsamp: error: ")
    assert "Traceback" not in result.output
    return lines[0]


def _window_offsets(flat, width, stride=(2, 2)):
    """The offset inside its window of each flat position ``h * width + w``."""
    rows, cols = np.divmod(flat, width)
    return (rows % stride[0]) * stride[1] + cols % stride[1]


def test_pool_writes_pooled_image_and_indices(run_cli, tmp_path, small_l):
    result = run_cli("pool", small_l, "-o", "p.png", "--stride", "2", "--indices-out", "i.npz")
    assert_ok(result)
    assert result.stdout == ""
    src = np.array(Image.open(small_l))  # 7×9
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "L" and im.size == (4, 3)
        pooled = np.array(im)
    ref_pooled, ref_idx = upsamp.max_pool(src, 2)
    np.testing.assert_array_equal(pooled, ref_pooled)
    with np.load(tmp_path / "i.npz") as data:
        assert {"format", "offsets", "input_shape", "stride"} <= set(data.files)
        assert str(data["format"]) == "window-offsets"
        assert data["offsets"].dtype == np.uint8
        np.testing.assert_array_equal(data["offsets"].reshape(3, 4), _window_offsets(ref_idx, 9))
        assert tuple(data["input_shape"]) == (7, 9)
        assert tuple(data["stride"]) == (2, 2)


def test_pool_rgba_keeps_alpha_and_stores_one_index_plane_per_channel(run_cli, tmp_path,
                                                                      small_rgba):
    assert_ok(run_cli("pool", small_rgba, "-o", "p.png", "--indices-out", "i.npz"))
    src = np.array(Image.open(small_rgba))
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "RGBA" and im.size == (6, 5)
        pooled = np.array(im)
    np.testing.assert_array_equal(pooled, upsamp.max_pool(src, 2)[0])
    with np.load(tmp_path / "i.npz") as data:
        assert data["offsets"].shape == (5, 6, 4)


def test_pool_then_unpool_puts_maxima_back(run_cli, tmp_path, small_rgb):
    assert_ok(run_cli("pool", small_rgb, "-o", "p.png", "--stride", "2", "--indices-out",
                      "i.npz"))
    assert_ok(run_cli("enlarge", "p.png", "-m", "max-unpool", "--indices", "i.npz", "-o",
                      "u.png"))
    src = np.array(Image.open(small_rgb)).astype(np.int64)
    with Image.open(tmp_path / "u.png") as im:
        assert im.size == (10, 8) and im.mode == "RGB"
        back = np.array(im).astype(np.int64)
    # every window holds its maximum at the maximum's place and zeros elsewhere
    for c in range(3):
        for i in range(4):
            for j in range(5):
                win_src = src[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c]
                win = back[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c]
                k = int(np.argmax(win_src))
                assert win.flat[k] == win_src.max()
                assert np.count_nonzero(np.delete(win.ravel(), k)) == 0


def test_pool_odd_size_unpools_to_the_original_size(run_cli, tmp_path, small_l):
    assert_ok(run_cli("pool", small_l, "-o", "p.npy", "--stride", "2", "--indices-out",
                      "i.npz"))
    assert_ok(run_cli("enlarge", "p.npy", "-m", "max-unpool", "--indices", "i.npz", "-o",
                      "u.npy"))
    assert np.load(tmp_path / "u.npy").shape == (7, 9)


def test_pool_stride_3(run_cli, tmp_path):
    x = np.arange(36, dtype=np.float64).reshape(6, 6)
    np.save(tmp_path / "x.npy", x)
    assert_ok(run_cli("pool", "x.npy", "-o", "p.npy", "--stride", "3", "--indices-out", "i.npz"))
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), [[14, 17], [32, 35]])
    with np.load(tmp_path / "i.npz") as data:
        assert tuple(data["stride"]) == (3, 3)


def test_pool_with_guide_takes_positions_from_the_guide(run_cli, tmp_path):
    rng = np.random.default_rng(31)
    image = rng.integers(0, 256, size=(6, 8), dtype=np.uint8)
    guide = rng.integers(0, 256, size=(6, 8), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "img.png")
    Image.fromarray(guide).save(tmp_path / "guide.png")
    assert_ok(run_cli("pool", "img.png", "--guide", "guide.png", "-o", "p.png", "--indices-out",
                      "i.npz"))
    _, idx = upsamp.max_pool(guide, 2)
    with np.load(tmp_path / "i.npz") as data:
        np.testing.assert_array_equal(data["offsets"][:, :, 0], _window_offsets(idx, 8))
    pooled = np.array(Image.open(tmp_path / "p.png"))
    np.testing.assert_array_equal(pooled, image.ravel()[idx])
    assert not np.array_equal(pooled, upsamp.max_pool(image, 2)[0])


def test_enlarge_max_unpool_with_guide(run_cli, tmp_path):
    rng = np.random.default_rng(32)
    small = rng.random((3, 4))
    guide = rng.random((6, 8))
    np.save(tmp_path / "s.npy", small)
    np.save(tmp_path / "g.npy", guide)
    assert_ok(run_cli("enlarge", "s.npy", "-m", "max-unpool", "--guide", "g.npy", "-o", "u.npy"))
    _, idx = upsamp.max_pool(guide, 2)
    np.testing.assert_array_equal(np.load(tmp_path / "u.npy"), upsamp.max_unpool(small, idx, 2))


def test_guide_of_the_wrong_size_is_refused(run_cli, tmp_path, small_l, listing):
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "guide.png")
    before = listing(tmp_path)
    result = run_cli("pool", small_l, "--guide", "guide.png", "-o", "p.png", "--indices-out",
                     "i.npz")
    line = assert_one_line_error(result)
    assert "guide" in line
    assert listing(tmp_path) == before


def test_enlarge_guide_of_the_wrong_size_is_refused(run_cli, tmp_path, small_l, listing):
    Image.fromarray(np.zeros((5, 5), dtype=np.uint8)).save(tmp_path / "guide.png")
    before = listing(tmp_path)
    result = run_cli("enlarge", small_l, "-m", "max-unpool", "--guide", "guide.png", "-o",
                     "u.png")
    line = assert_one_line_error(result)
    assert "guide.png" in line
    assert listing(tmp_path) == before


def test_max_unpool_without_indices_says_how_to_get_them(run_cli, tmp_path, small_l, listing):
    before = listing(tmp_path)
    result = run_cli("enlarge", small_l, "-m", "max-unpool")
    assert result.exit_code == 2
    assert "--indices" in result.stderr
    assert "upsamp pool" in result.stderr and "--indices-out" in result.stderr
    assert "--guide" in result.stderr
    assert listing(tmp_path) == before


def test_indices_of_the_wrong_shape(run_cli, tmp_path, listing):
    big = np.random.default_rng(33).random((8, 8))
    np.save(tmp_path / "big.npy", big)
    assert_ok(run_cli("pool", "big.npy", "-o", "p.npy", "--indices-out", "i.npz"))  # 4×4
    np.save(tmp_path / "x.npy", np.ones((3, 3)))
    before = listing(tmp_path)
    result = run_cli("enlarge", "x.npy", "-m", "max-unpool", "--indices", "i.npz", "-o",
                     "u.npy")
    line = assert_one_line_error(result)
    assert "i.npz" in line
    assert listing(tmp_path) == before


def test_indices_with_the_wrong_channel_count(run_cli, tmp_path, small_rgb, listing):
    # right spatial size for the 8×10 input, but 2 index planes for 3 colour channels
    np.savez(tmp_path / "i.npz", indices=np.zeros((8, 10, 2), dtype=np.int64),
             input_shape=np.array([16, 20]), stride=np.array([2, 2]))
    before = listing(tmp_path)
    result = run_cli("enlarge", small_rgb, "-m", "max-unpool", "--indices", "i.npz", "-o",
                     "u.png")
    line = assert_one_line_error(result)
    assert "i.npz" in line and "channels" in line
    assert listing(tmp_path) == before


@pytest.mark.parametrize("content", ["not a zip", None])
def test_bad_indices_file(run_cli, tmp_path, small_l, listing, content):
    path = tmp_path / "i.npz"
    if content is None:
        np.savez(path, something=np.zeros(3))
    else:
        path.write_text(content)
    before = listing(tmp_path)
    result = run_cli("enlarge", small_l, "-m", "max-unpool", "--indices", "i.npz", "-o", "u.png")
    line = assert_one_line_error(result)
    assert "i.npz" in line
    assert listing(tmp_path) == before


def test_missing_indices_file(run_cli, tmp_path, small_l, listing):
    before = listing(tmp_path)
    result = run_cli("enlarge", small_l, "-m", "max-unpool", "--indices", "nope.npz", "-o",
                     "u.png")
    line = assert_one_line_error(result)
    assert "nope.npz" in line
    assert listing(tmp_path) == before


def test_indices_out_must_be_npz(run_cli, tmp_path, small_l, listing):
    before = listing(tmp_path)
    result = run_cli("pool", small_l, "-o", "p.png", "--indices-out", "i.txt")
    assert result.exit_code == 2
    assert ".npz" in result.stderr
    assert listing(tmp_path) == before


def test_pool_refuses_existing_outputs(run_cli, tmp_path, small_l):
    (tmp_path / "i.npz").write_bytes(b"keep me")
    result = run_cli("pool", small_l, "-o", "p.png", "--indices-out", "i.npz")
    line = assert_one_line_error(result)
    assert "--overwrite" in line
    assert (tmp_path / "i.npz").read_bytes() == b"keep me"
    assert not (tmp_path / "p.png").exists()
    assert_ok(run_cli("pool", small_l, "-o", "p.png", "--indices-out", "i.npz", "--overwrite"))
    with np.load(tmp_path / "i.npz") as data:
        assert "offsets" in data.files


def test_pool_window_larger_than_the_image(run_cli, tmp_path, small_l, listing):
    before = listing(tmp_path)
    result = run_cli("pool", small_l, "-o", "p.png", "--stride", "8", "--indices-out", "i.npz")
    assert_one_line_error(result)
    assert listing(tmp_path) == before


def test_pool_leaves_nothing_when_the_indices_cannot_be_written(run_cli, tmp_path, small_l,
                                                               listing):
    before = listing(tmp_path)
    result = run_cli("pool", small_l, "-o", "p.png", "--indices-out", "missing_dir/i.npz")
    line = assert_one_line_error(result)
    assert "missing_dir" in line
    assert listing(tmp_path) == before  # the pooled image alone is a partial result


def test_max_unpool_default_name_and_json_report_the_indices_stride(run_cli, tmp_path):
    arr = np.random.default_rng(34).integers(0, 256, size=(12, 12), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "b.png")
    assert_ok(run_cli("pool", "b.png", "-o", "p.png", "--stride", "3", "--indices-out",
                      "i.npz"))
    result = run_cli("enlarge", "p.png", "-m", "max-unpool", "--indices", "i.npz", "--json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    assert doc["output_shape"][:2] == [12, 12]
    assert doc["parameters"]["stride"] == [3, 3]
    assert Path(doc["output"]).name == "p_max-unpoolx3.png"
    assert (tmp_path / "p_max-unpoolx3.png").is_file()


def test_an_old_int64_indices_file_unpools_like_the_compact_one(run_cli, tmp_path, small_rgb):
    """Files of earlier versions (PyTorch-layout int64 indices) give the same image."""
    assert_ok(run_cli("pool", small_rgb, "-o", "p.png", "--indices-out", "i.npz"))
    src = np.array(Image.open(small_rgb))
    _, idx = upsamp.max_pool(src, 2)
    np.savez(tmp_path / "old.npz", indices=idx, input_shape=np.array([8, 10]),
             stride=np.array([2, 2]))
    assert_ok(run_cli("enlarge", "p.png", "-m", "max-unpool", "--indices", "i.npz", "-o",
                      "new.png"))
    assert_ok(run_cli("enlarge", "p.png", "-m", "max-unpool", "--indices", "old.npz", "-o",
                      "old.png"))
    pooled = np.array(Image.open(tmp_path / "p.png"))
    expected = upsamp.max_unpool(pooled, idx, 2, keep_dtype=True)
    for name in ("new.png", "old.png"):
        np.testing.assert_array_equal(np.array(Image.open(tmp_path / name)), expected)
