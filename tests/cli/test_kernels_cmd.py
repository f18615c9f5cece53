"""``upsamp kernels list`` and ``upsamp kernels show``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from upsamp.kernels import PRESETS, load_kernel, preset, preset_names


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)


def weight_tables(stdout: str) -> list[list[list[str]]]:
    """The cells of each boxed table printed after a ``weight ...`` title."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in stdout.splitlines():
        text = line.strip()
        if text.startswith("weight"):
            current = []
            tables.append(current)
        elif current is not None and text.startswith("│"):
            current.append([c.strip() for c in text.strip("│").split("│")])
    return tables


@pytest.fixture
def wide_terminal(monkeypatch):
    """A common terminal width, so that the output does not depend on the test runner's."""
    monkeypatch.setenv("COLUMNS", "120")


def test_list_prints_every_preset(run_cli):
    result = run_cli("kernels", "list")
    assert_ok(result)
    names = preset_names()
    assert set(names) == {"nearest", "bilinear", "bicubic", "gaussian", "bed-of-nails",
                          "checkerboard"}
    for name in names:
        assert re.search(rf"(^|\W){re.escape(name)}(\W|$)", result.stdout, re.M), name


def test_list_prints_a_description_per_preset(run_cli, wide_terminal):
    result = run_cli("kernels", "list")
    assert_ok(result)
    flat = " ".join(result.stdout.split())
    for name, entry in PRESETS.items():
        first_words = " ".join(entry.description.split()[:3])
        assert first_words in flat, name


@pytest.mark.parametrize(
    "name, stride",
    [("bilinear", 2), ("nearest", 3), ("bed-of-nails", 2), ("checkerboard", 2),
     ("bilinear", 3), ("bicubic", 2), ("bicubic", 3), ("gaussian", 2)],
)
def test_show_prints_the_weights(run_cli, wide_terminal, name, stride):
    result = run_cli("kernels", "show", name, "--stride", stride)
    assert_ok(result)
    k = preset(name, stride)
    assert name in result.stdout
    assert f"stride {k.stride}" in result.stdout
    assert f"padding {k.padding}" in result.stdout
    tables = weight_tables(result.stdout)
    assert len(tables) == 1, result.stdout
    cells = tables[0]
    assert len(cells) == k.weight.shape[0], result.stdout
    assert all("…" not in c for row in cells for c in row), "weights are cut off:\n" + result.stdout
    shown = np.array([[float(c) for c in row] for row in cells])
    np.testing.assert_allclose(shown, k.weight, rtol=1e-3, atol=1e-9)


def test_show_defaults_to_stride_2(run_cli):
    result = run_cli("kernels", "show", "nearest")
    assert_ok(result)
    cells = weight_tables(result.stdout)[0]
    assert cells == [["1", "1"], ["1", "1"]]


def test_show_a_kernel_file(run_cli, tmp_path):
    np.save(tmp_path / "k.npy", np.array([[1.0, 2.0], [3.0, 4.5]]))
    result = run_cli("kernels", "show", "k.npy")
    assert_ok(result)
    assert weight_tables(result.stdout)[0] == [["1", "2"], ["3", "4.5"]]


@pytest.mark.parametrize("name, stride", [("bilinear", 2), ("bicubic", 3), ("gaussian", 4)])
def test_save_npy_round_trip(run_cli, tmp_path, name, stride):
    result = run_cli("kernels", "show", name, "--stride", stride, "--save", "k.npy")
    assert_ok(result)
    assert "k.npy" in result.stderr
    loaded = load_kernel(tmp_path / "k.npy")
    np.testing.assert_array_equal(loaded.weight, preset(name, stride).weight)


@pytest.mark.parametrize("name, stride", [("bilinear", 2), ("checkerboard", 3), ("bicubic", 2)])
def test_save_json_round_trip(run_cli, tmp_path, name, stride):
    assert_ok(run_cli("kernels", "show", name, "--stride", stride, "--save", "k.json"))
    loaded = load_kernel(tmp_path / "k.json")
    k = preset(name, stride)
    np.testing.assert_allclose(loaded.weight, k.weight, rtol=0, atol=1e-15)
    assert loaded.stride == k.stride
    assert loaded.padding == k.padding
    assert loaded.output_padding == k.output_padding
    assert loaded.dilation == k.dilation
    assert loaded.edge == k.edge


def test_saved_json_kernel_behaves_like_the_preset(run_cli, tmp_path):
    x = np.random.default_rng(41).random((5, 6))
    np.save(tmp_path / "x.npy", x)
    assert_ok(run_cli("kernels", "show", "bicubic", "--stride", "3", "--save", "k.json"))
    assert_ok(run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "k.json", "-o", "a.npy"))
    assert_ok(run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "bicubic", "--stride", "3",
                      "-o", "b.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert np.load(tmp_path / "a.npy").shape == (15, 18)


def test_show_json(run_cli):
    result = run_cli("kernels", "show", "bilinear", "--stride", "2", "--json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    k = preset("bilinear", 2)
    np.testing.assert_allclose(np.array(doc["weight"]), k.weight)
    assert doc["stride"] == [2, 2]
    assert doc["padding"] == [1, 1]
    assert doc["output_padding"] == [0, 0]
    assert doc["edge"] == "replicate"
    assert "│" not in result.stdout


def test_save_refuses_an_existing_file(run_cli, tmp_path, listing):
    (tmp_path / "k.npy").write_bytes(b"precious")
    before = listing(tmp_path)
    result = run_cli("kernels", "show", "bilinear", "--save", "k.npy")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: ")
    assert (tmp_path / "k.npy").read_bytes() == b"precious"
    assert listing(tmp_path) == before
    assert_ok(run_cli("kernels", "show", "bilinear", "--save", "k.npy", "--overwrite"))
    np.testing.assert_array_equal(np.load(tmp_path / "k.npy"), preset("bilinear", 2).weight)


def test_save_with_an_unknown_extension(run_cli, tmp_path, listing):
    before = listing(tmp_path)
    result = run_cli("kernels", "show", "bilinear", "--save", "k.txt")
    assert result.exit_code == 1
    assert result.stderr.startswith("upsamp: error: ")
    assert "k.txt" in result.stderr
    assert listing(tmp_path) == before


def test_show_unknown_preset(run_cli):
    result = run_cli("kernels", "show", "lanczos")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: ")
    assert "lanczos" in lines[0] and "bilinear" in lines[0]


def test_show_checkerboard_at_stride_1_is_refused(run_cli):
    result = run_cli("kernels", "show", "checkerboard", "--stride", "1")
    assert result.exit_code == 1
    assert result.stderr.startswith("upsamp: error: ")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name, stride", [("bicubic", 3), ("gaussian", 4), ("bicubic", 4)])
def test_show_weights_are_not_cut_off_in_an_80_column_terminal(run_cli, monkeypatch, name,
                                                               stride):
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("kernels", "show", name, "--stride", stride)
    assert_ok(result)
    cells = weight_tables(result.stdout)[0]
    assert all("…" not in c for row in cells for c in row), "weights are cut off:\n" + result.stdout
    shown = np.array([[float(c) for c in row] for row in cells])
    np.testing.assert_allclose(shown, preset(name, stride).weight, rtol=1e-3, atol=1e-9)


def test_show_analyses_the_weights_and_reports_the_bias_apart(run_cli, tmp_path):
    """A bias adds the same to every phase: the spread of a 3×3 ones kernel at stride 2 stays
    (4 − 1)/2.25 with a bias of 2, and the bias is reported on its own."""
    ones = np.ones((3, 3)).tolist()
    (tmp_path / "plain.json").write_text(json.dumps({"weight": ones, "stride": 2}))
    (tmp_path / "biased.json").write_text(json.dumps({"weight": ones, "stride": 2, "bias": [2.0]}))
    docs = {}
    for name in ("plain", "biased"):
        result = run_cli("kernels", "show", f"{name}.json", "--json")
        assert result.exit_code == 0, result.stderr
        docs[name] = json.loads(result.stdout)["analysis"]
    assert docs["biased"]["phase_spread"] == pytest.approx(3 / 2.25)
    assert docs["biased"]["phase_sums"] == docs["plain"]["phase_sums"] == [[4, 2], [2, 1]]
    assert docs["biased"]["bias"] == [2.0] and docs["plain"]["bias"] is None
    text = run_cli("kernels", "show", "biased.json").stdout
    assert "bias 2: added to every phase alike" in text


def test_show_save_npy_prints_the_flags_that_give_back_the_geometry(run_cli, tmp_path):
    """A .npy file holds the weights only: saving the bilinear preset (padding 1, edge
    replicate) warns with the flags, and those flags reproduce the preset's result exactly."""
    result = run_cli("kernels", "show", "bilinear", "--stride", "2", "--save", "bil.npy")
    assert result.exit_code == 0, result.stderr
    [note] = [line for line in result.stderr.splitlines() if "holds only the weights" in line]
    flags = note.split("--kernel bil.npy ")[1].split(" (")[0].split()
    assert flags == ["--stride", "2,2", "--padding", "1,1", "--edge", "replicate"]
    np.save(tmp_path / "x.npy", np.random.default_rng(3).random((6, 5)))
    assert run_cli("enlarge", "x.npy", "-m", "transconv", "-o", "preset.npy").exit_code == 0
    assert run_cli("enlarge", "x.npy", "-m", "transconv", "--kernel", "bil.npy", *flags,
                   "-o", "file.npy").exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "file.npy"), np.load(tmp_path / "preset.npy"))
    # nothing is lost (stride 2, no padding, zero edges): no note; .json keeps everything
    plain = run_cli("kernels", "show", "nearest", "--stride", "2", "--save", "n.npy")
    assert "holds only the weights" not in plain.stderr
    kept = run_cli("kernels", "show", "bilinear", "--stride", "2", "--save", "bil.json")
    assert "holds only the weights" not in kept.stderr
