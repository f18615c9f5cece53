"""``upsamp explain`` and ``upsamp pool --show`` from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import upsamp

FIVES = ("transconv", "--input", "[[1,2],[3,4]]", "--kernel", "[[5,5],[5,5]]", "--stride", "1")


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)


def assert_one_line_usage_error(result, *needles: str) -> str:
    """Exit 2, one ``upsamp: error:`` line on stderr naming the problem, nothing on stdout."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("upsamp: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_the_fives_example_prints_every_view(run_cli):
    result = run_cli("explain", *FIVES)
    assert_ok(result)
    out = result.stdout
    for heading in ("scatter:", "gather:", "matrix:", "phases:", "size:"):
        assert heading in out
    assert "y[1,1] = 1·5 + 2·5 + 3·5 + 4·5 = 50" in out
    assert "(2 − 1)·1 − 2·0 + 1·(2 − 1) + 0 + 1 = 3" in out
    assert "torch.nn.ConvTranspose2d(1, 1, kernel_size=(2, 2), stride=(1, 1)" in out
    assert "\x1b[" not in out  # no colour when stdout is not a terminal


def test_json_has_the_issue_keys(run_cli):
    result = run_cli("explain", *FIVES, "--products", "--json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    assert {"method", "input", "output", "stride", "padding", "output_padding", "dilation"} <= set(
        doc
    )
    assert doc["method"] == "transconv" and doc["output"] == [[5, 15, 10], [20, 50, 30],
                                                              [15, 35, 20]]
    scatter = doc["scatter"]
    assert set(scatter) >= {"partials", "full", "crop"}
    assert set(scatter["partials"][0]) == {"at", "value", "offset", "partial"}
    assert set(doc["gather"]) >= {"flipped_kernel", "expanded_input", "formulas"}
    assert set(doc["matrix"]) == {"C", "C_T", "CC_T", "C_TC"}
    assert all(set(item) >= {"phase", "kernel", "sum"} for item in doc["phases"])
    assert set(doc["size"]) >= {"formula", "output_shape", "frameworks"}
    assert set(doc["size"]["frameworks"]) == {"pytorch", "keras", "onnx", "mxnet"}


def test_json_weights_and_pool_keys(run_cli):
    weights = json.loads(run_cli("explain", "bilinear", "--input", "10 20; 30 40", "--json").stdout)
    assert set(weights["weights"]) >= {"rows", "cols"}
    assert set(weights["weights"]["rows"][0]) == {"out", "source", "taps"}
    assert weights["output"][0] == [10, 12.5, 17.5, 20]
    pooled = json.loads(
        run_cli(
            "explain", "max-unpool", "--input", "1 2; 3 4", "--guide",
            "1 2 4 1; 3 4 2 3; 1 4 1 2; 2 3 4 3", "--json",
        ).stdout
    )  # fmt: skip
    assert set(pooled["pool"]) >= {"guide", "pooled", "mask", "indices"}
    assert pooled["output"] == [[0, 0, 2, 0], [0, 1, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]]


def test_views_option_selects_views(run_cli):
    doc = json.loads(run_cli("explain", *FIVES, "--view", "gather", "--view", "size",
                             "--json").stdout)
    assert "gather" in doc and "size" in doc
    assert not {"scatter", "matrix", "phases"} & set(doc)


def test_geometry_means_what_it_means_for_enlarge(run_cli, tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1.0, 3, 2], [0, 4, 1]]))
    np.save(tmp_path / "k.npy", np.arange(9.0).reshape(3, 3))
    geometry = ("--stride", "2", "--padding", "1", "--output-padding", "1", "--dilation", "1")
    assert_ok(run_cli("enlarge", "x.npy", "--method", "transconv", "--kernel", "k.npy",
                      *geometry, "-o", "y.npy"))
    doc = json.loads(run_cli("explain", "transconv", "--input", "x.npy", "--kernel", "k.npy",
                             *geometry, "--json").stdout)
    np.testing.assert_allclose(np.array(doc["output"], dtype=float), np.load(tmp_path / "y.npy"))
    assert doc["padding"] == [1, 1] and doc["output_padding"] == [1, 1]


def test_presets_keep_their_edge_mode_as_in_enlarge(run_cli, tmp_path):
    x = np.array([[1.0, 2], [3, 4]])
    np.save(tmp_path / "x.npy", x)
    args = ("--kernel", "bilinear", "--stride", "2")
    assert_ok(run_cli("enlarge", "x.npy", "--method", "transconv", *args, "-o", "y.npy"))
    doc = json.loads(run_cli("explain", "transconv", "--input", "x.npy", *args, "--json").stdout)
    assert doc["edge"]["mode"] == "replicate"
    np.testing.assert_allclose(np.array(doc["output"]), np.load(tmp_path / "y.npy"))
    np.testing.assert_allclose(np.array(doc["output"]), upsamp.bilinear(x, 2))
    # --edge zero: the plain transposed convolution, and 'same' padding as for enlarge
    result = run_cli("explain", "transconv", "--input", "x.npy", "--kernel", "[[1,2,1]]",
                     "--stride", "1,2", "--padding", "same", "--edge", "zero", "--json")
    doc = json.loads(result.stdout)
    assert "edge" not in doc and np.array(doc["output"]).shape == (2, 4)
    np.testing.assert_allclose(
        doc["output"], upsamp.transconv(x, np.array([[1.0, 2, 1]]), stride=(1, 2),
                                        padding=(0, 1), output_padding=(0, 1))
    )


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("transconv", "--input", "[[1,2],[3]]"), ("--input", "ragged")),
        (("transconv", "--input", "1 2; 3"), ("--input", "ragged")),
        (("transconv", "--input", "[[1,'x']]"), ("--input", "JSON")),
        (("transconv", "--input", "1 a; 2 3"), ("--input", "not a number")),
        (("transconv", "--input", "[]"), ("--input", "empty")),
        (("transconv", "--input", "[[]]"), ("--input", "empty")),
        (("transconv", "--input", "missing.npy"), ("--input", "no such file")),
        (("transconv", "--input", "big.npy"), ("--input", "3×17", "up to 16×16")),  # W×H
        (("bilinear", "--view", "pool"), ("pool view does not apply to bilinear",)),
        (("max-unpool",), ("--guide",)),
        (("bilinear", "--kernel", "[[1]]"), ("--kernel", "bilinear")),
        (("nearest", "--padding", "1"), ("--padding",)),
        (("bilinear", "--edge", "zero"), ("--edge",)),
        (("bilinear", "--align-corners", "--view", "gather"), ("not a transposed convolution",)),
        (("transconv", "--kernel", "k4.npy"), ("2-D", "(1, 1, 2, 2)")),
        (("transconv", "--kernel", "[[1,2],[3,4]]", "--stride", "2", "--output-padding", "2"),
         ("output_padding must be smaller",)),
        (("transconv", "--kernel", "[[1]]", "--stride", "1", "--padding", "3"),
         ("padding is too large",)),
        (("transconv", "--kernel", "[[1,NaN]]"), ("--kernel", "finite")),
        (("transconv", "--kernel", "nosuch"), ("--kernel",)),
        (("transconv", "--input", "[" + ",".join(["[1,2,3,4,5,6,7,8]"] * 16) + "]", "--kernel",
          "[[1,1,1,1,1,1,1,1,1,1]]", "--stride", "5"), ("up to 64×64",)),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(run_cli, tmp_path, listing, args,
                                                         needles):
    np.save(tmp_path / "big.npy", np.ones((17, 3)))
    np.save(tmp_path / "k4.npy", np.ones((1, 1, 2, 2)))
    before = listing(tmp_path)
    result = run_cli("explain", *args, "--html", "page.html", "--gif", "anim.gif")
    assert_one_line_usage_error(result, *needles)
    assert listing(tmp_path) == before


def test_html_and_gif_are_written(run_cli, tmp_path):
    result = run_cli("explain", *FIVES, "--html", "page.html", "--gif", "anim.gif", "--json")
    assert_ok(result)
    assert json.loads(result.stdout)["method"] == "transconv"
    text = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for forbidden in ("http://", "https://", "<link", "src="):
        assert forbidden not in text
    with Image.open(tmp_path / "anim.gif") as gif:
        assert gif.n_frames == 4 + 1  # one frame per input element, then the sum
        assert gif.info.get("loop") == 0
    # nothing is replaced without --overwrite
    again = run_cli("explain", *FIVES, "--html", "page.html")
    assert again.exit_code == 1 and "exists" in again.stderr
    assert_ok(run_cli("explain", *FIVES, "--html", "page.html", "--overwrite"))


def test_html_escapes_every_value(run_cli):
    from upsamp.explain.html import page

    doc = json.loads(run_cli("explain", *FIVES, "--json").stdout)
    doc["method"] = "<script>alert(1)</script>"
    doc["size"]["frameworks"]["pytorch"] = "</script><b>&"
    text = page(doc, crop_text="<i>")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "</script><b>" not in text and "&lt;/script&gt;&lt;b&gt;&amp;" in text
    assert text.count("<script") == 2  # the data block and the page's own script


def test_gif_needs_the_scatter_view(run_cli, tmp_path, listing):
    before = listing(tmp_path)
    result = run_cli("explain", "max-unpool", "--guide", "1 2; 3 4", "--gif", "anim.gif")
    assert_one_line_usage_error(result, "--gif", "scatter")
    assert listing(tmp_path) == before


def test_pool_show_prints_pooled_mask_and_indices(run_cli, tmp_path):
    np.save(tmp_path / "m.npy", np.array([[1.0, 2, 4, 1], [3, 4, 2, 3], [1, 4, 1, 2],
                                          [2, 3, 4, 3]]))
    result = run_cli("pool", "m.npy", "-o", "p.npy", "--stride", "2", "--indices-out", "i.npz",
                     "--show")
    assert_ok(result)
    cells = [
        [c.strip() for c in line.strip().strip("│").split("│")]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    ]
    assert cells == [
        ["4", "4"], ["4", "4"],
        ["0", "0", "1", "0"], ["0", "1", "0", "0"], ["0", "1", "0", "0"], ["0", "0", "1", "0"],
        ["5", "2"], ["9", "14"],
    ]  # fmt: skip
    assert "pooled 2×2" in result.stdout and "mask 4×4" in result.stdout
