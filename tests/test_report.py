"""Tests of upsamp.report: method entries, the round trip, the per-method numbers and verdicts,
kernel repair, spectra, and writing the outputs.

Reference values (see docs/references.md [Odena2016], [Sugawara2019]): an all-ones 3×3
kernel at
stride 2 leaves a flat input with phase means 4:2:2:1, cb_dc = 0.48432; nearest and bilinear
leave it flat; bed of nails leaves one phase of four, cb_dc = sqrt(3). Round-trip numbers are
recomputed here with plain numpy (np.repeat, np.rint, the PSNR formula), not with the module.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp
from upsamp.diagnostics import analyze_kernel, detail_region, spectrum
from upsamp.errors import InputError, KernelError, MethodError, OutputError, ParameterError
from upsamp.kernel_analysis import fix_kernel, kernel_analysis
from upsamp.kernels import PRESETS, Kernel, preset
from upsamp.methods import MethodOptions
from upsamp.report import (
    MethodEntry,
    crop_to_stride,
    data_range,
    downsample_mean,
    method_entries,
    reference_crop,
    report_arrays,
    report_enlarged,
)
from upsamp.report_files import output_files, save_outputs

#: The built-in methods in registration order: the default entries of a report.
BUILTIN_METHODS = (
    "nearest", "bilinear", "bicubic", "lanczos", "bed-of-nails", "max-unpool", "transconv",
    "pixel-shuffle", "resize-conv",
)  # fmt: skip

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
CB_ONES_3X3 = 0.48432
CLEAN_PRESETS = ("nearest", "bilinear", "bicubic", "gaussian")
GRID_PRESETS = ("bed-of-nails", "checkerboard")


def camera(size: int = 64) -> np.ndarray:
    """A ``size×size`` uint8 crop of the camera man (the coat edge and the camera)."""
    with Image.open(SAMPLES / "camera.png") as im:
        return np.array(im.convert("L"))[100 : 100 + size, 200 : 200 + size]


def chelsea(height: int = 48, width: int = 64) -> np.ndarray:
    """A uint8 RGB crop of the cat around its eye."""
    with Image.open(SAMPLES / "chelsea.png") as im:
        return np.array(im.convert("RGB"))[90 : 90 + height, 170 : 170 + width]


def psnr_numpy(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(peak**2 / mse))


def by_name(report) -> dict:
    return {m.name: m for m in report.methods}


@pytest.fixture
def ones_3x3(tmp_path: Path) -> Path:
    """An all-ones 3×3 kernel file (no geometry: stride from the report, padding 0)."""
    path = tmp_path / "ones3.npy"
    np.save(path, np.ones((3, 3)))
    return path


# --------------------------------------------------------------------------------------------
# method entries
# --------------------------------------------------------------------------------------------


def test_default_entries_are_the_builtins_with_the_bilinear_preset():
    entries = {e.name: e for e in method_entries(stride=2)}
    assert list(entries) == list(BUILTIN_METHODS)
    transconv = entries["transconv"]
    assert transconv.method == "transconv"
    np.testing.assert_array_equal(transconv.kernel.weight, preset("bilinear", 2).weight)
    kernel_methods = {"transconv", "pixel-shuffle", "resize-conv"}
    assert all(e.kernel is None for name, e in entries.items() if name not in kernel_methods)
    # every kernel-bearing default is bilinear enlargement: its analysed transposed form too
    for name in kernel_methods:
        analysed = entries[name].analysed
        x = np.random.default_rng(0).random((5, 6))
        np.testing.assert_allclose(
            upsamp.transconv(x, analysed.weight, **analysed.transconv_kwargs()),
            upsamp.bilinear(x, 2), atol=1e-12,
        )


def test_each_kernel_adds_a_named_transconv_entry(ones_3x3):
    entries = method_entries(["nearest"], ["checkerboard", str(ones_3x3)], stride=3)
    assert [e.name for e in entries] == ["nearest", "transconv:checkerboard", "transconv:ones3"]
    assert entries[1].kernel.stride == (3, 3)
    assert entries[2].kernel.stride == (3, 3) and entries[2].kernel.padding == (0, 0)


def test_transconv_colon_spec_in_methods_and_duplicates_are_dropped():
    entries = method_entries(["transconv:bicubic", "nearest", "nearest"], ["bicubic"], stride=2)
    assert [e.name for e in entries] == ["transconv:bicubic", "nearest"]


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(MethodError, match="bilinear"):
        method_entries(["lanczos-5"], stride=2)


def test_unknown_kernel_is_a_kernel_error():
    with pytest.raises(KernelError, match="lanczos"):
        method_entries(["nearest"], ["lanczos"], stride=2)


def test_a_kernel_file_made_for_another_stride_is_refused(tmp_path):
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"weight": np.ones((4, 4)).tolist(), "stride": 3}))
    with pytest.raises(KernelError, match="stride"):
        method_entries(["nearest"], [str(path)], stride=2)
    assert method_entries(["nearest"], [str(path)], stride=3)[1].kernel.stride == (3, 3)


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def test_crop_and_mean_downsample():
    g = np.arange(35.0).reshape(5, 7)
    cropped = crop_to_stride(g, 2)
    assert cropped.shape == (4, 6)
    np.testing.assert_array_equal(cropped, g[:4, :6])
    low = downsample_mean(cropped, 2)
    expected = np.array(
        [
            [(g[r, c] + g[r, c + 1] + g[r + 1, c] + g[r + 1, c + 1]) / 4 for c in range(0, 6, 2)]
            for r in range(0, 4, 2)
        ]
    )
    np.testing.assert_array_equal(low, expected)
    rgb = np.random.default_rng(0).integers(0, 256, (6, 9, 3)).astype(np.uint8)
    low3 = downsample_mean(rgb, (2, 3))
    assert low3.shape == (3, 3, 3)
    assert low3[1, 2, 1] == pytest.approx(rgb[2:4, 6:9, 1].mean())
    with pytest.raises(ParameterError):
        downsample_mean(g, 2)


def test_data_range_follows_the_mode():
    assert data_range("L", np.zeros(3, np.uint8)) == 255
    assert data_range("RGB", np.zeros(3, np.uint8)) == 255
    assert data_range("I;16", np.zeros(3, np.uint16)) == 65535
    assert data_range("F", np.array([0.0, 0.5])) == 1.0
    assert data_range("F", np.array([-2.0, 3.0])) == 5.0


def test_reference_crop_reads_an_aligned_output_and_fills_the_rest():
    out = np.arange(20.0).reshape(4, 5)
    crop = reference_crop(out, (1, -1), 0, 0, 4, 3, np.nan)
    # reference (r, c) is output (r + 1, c - 1)
    assert np.isnan(crop[:, 0]).all() and np.isnan(crop[3]).all()
    assert crop[0, 1] == out[1, 0] and crop[2, 2] == out[3, 1]


def test_detail_region_finds_the_textured_block():
    img = np.full((64, 64), 100, np.uint8)
    img[36:52, 12:28] = np.random.default_rng(1).integers(0, 256, (16, 16))
    top, left, side = detail_region(img, 16, align=4)
    assert side == 16 and (top, left) == (36, 12)


# --------------------------------------------------------------------------------------------
# reference values (no round trip: the probe and the kernel analysis)
# --------------------------------------------------------------------------------------------


def test_reference_cb_dc_values(ones_3x3):
    entries = method_entries(None, [str(ones_3x3)], stride=2)
    rep = report_arrays(camera(32), entries, stride=2, mode="L", roundtrip=False)
    m = by_name(rep)
    assert m["transconv:ones3"].cb_dc == pytest.approx(CB_ONES_3X3, abs=5e-6)
    np.testing.assert_allclose(
        np.sort(m["transconv:ones3"].probe_phase_means.ravel()) * 9 / 4,
        [1, 2, 2, 4],
        rtol=1e-12,
    )
    for name in ("nearest", "bilinear", "transconv"):
        assert m[name].cb_dc < 1e-12, name
        assert m[name].verdict == "clean"
    for name in ("bed-of-nails", "max-unpool"):
        assert m[name].cb_dc == pytest.approx(math.sqrt(3), rel=1e-12), name
        assert m[name].verdict == "checkerboard"
        assert "3 of 4 phases are empty" in m[name].explanation
    ones = m["transconv:ones3"]
    assert ones.verdict == "checkerboard" and not ones.artifact_free
    np.testing.assert_array_equal(ones.analysis.phase_sums[0], [[4, 2], [2, 1]])
    assert "4:2:2:1" in ones.explanation and "4×4" in ones.fix


@pytest.mark.parametrize("stride", [2, 3])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_verdict(name, stride):
    entries = method_entries([], [name], stride=stride)
    rep = report_arrays(camera(36), entries, stride=stride, mode="L")
    result = rep.methods[0]
    expected = "clean" if name in CLEAN_PRESETS else "checkerboard"
    assert result.verdict == expected
    assert result.artifact_free is (expected == "clean")
    assert (result.cb_dc < 1e-9) is (expected == "clean")
    assert result.analysis is not None
    if expected == "checkerboard":
        assert result.fix
        assert result.cb_rel > 0.3  # the grid dominates the fine detail of the output
    else:
        assert result.fix == ""


def test_checkerboard_preset_probe_agrees_with_its_phase_sums():
    entries = method_entries([], ["checkerboard"], stride=2)
    rep = report_arrays(camera(32), entries, stride=2, mode="L", roundtrip=False)
    result = rep.methods[0]
    assert result.cb_dc == pytest.approx(CB_ONES_3X3, abs=5e-6)  # the same 1:2:2:4 phases
    sums = result.analysis.phase_sums[0]
    np.testing.assert_allclose(result.probe_phase_means, sums / sums.mean(), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# round trip
# --------------------------------------------------------------------------------------------


def test_round_trip_of_nearest_matches_a_plain_numpy_computation():
    truth = camera(62)[:, :61]  # cropped to 62×60 by the report
    rep = report_arrays(truth, method_entries(["nearest"], stride=2), stride=2, mode="L")
    g = truth[:62, :60]
    low = g.reshape(31, 2, 30, 2).astype(np.float64).mean(axis=(1, 3))
    up = np.clip(np.rint(np.repeat(np.repeat(low, 2, axis=0), 2, axis=1)), 0, 255)
    result = rep.methods[0]
    assert result.output_shape == (62, 60)
    np.testing.assert_array_equal(result.stored, up.astype(np.uint8))
    assert result.psnr == pytest.approx(psnr_numpy(g, up, 255), abs=1e-9)
    assert any("cropped from 61×62 to 60×62" in n for n in rep.notes)
    np.testing.assert_array_equal(rep.reference, g)


def test_round_trip_ssim_agrees_with_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    truth = chelsea()
    rep = report_arrays(truth, method_entries(["bilinear"], stride=2), stride=2, mode="RGB")
    result = rep.methods[0]
    expected = metrics.structural_similarity(
        truth,
        result.stored,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )
    assert result.ssim == pytest.approx(expected, abs=1e-4)
    assert 0.5 < result.ssim < 1.0


def test_max_unpool_round_trip_puts_each_maximum_back():
    truth = camera(40)
    rep = report_arrays(truth, method_entries(["max-unpool"], stride=2), stride=2, mode="L")
    out = rep.methods[0].stored
    cells = truth.reshape(20, 2, 20, 2).transpose(0, 2, 1, 3).reshape(20, 20, 4)
    out_cells = out.reshape(20, 2, 20, 2).transpose(0, 2, 1, 3).reshape(20, 20, 4)
    np.testing.assert_array_equal(out_cells.max(axis=2), cells.max(axis=2))
    first = cells.argmax(axis=2)  # ties go to the first position of the window
    np.testing.assert_array_equal(
        np.take_along_axis(out_cells, first[..., None], 2)[..., 0], cells.max(axis=2)
    )
    assert ((out_cells > 0).sum(axis=2) <= 1).all()


def test_alpha_is_ignored_and_noted():
    rgb = chelsea()
    plain = report_arrays(rgb, method_entries(["bilinear"], stride=2), stride=2, mode="RGB")
    with_alpha = report_arrays(
        rgb, method_entries(["bilinear"], stride=2), stride=2, mode="RGB", has_alpha=True
    )
    assert with_alpha.methods[0].psnr == plain.methods[0].psnr
    assert any("alpha" in n for n in with_alpha.notes)
    assert not any("alpha" in n for n in plain.notes)


def test_sixteen_bit_round_trip_uses_the_16_bit_range():
    truth = camera(32).astype(np.uint16) * 257
    rep = report_arrays(truth, method_entries(["nearest"], stride=2), stride=2, mode="I;16")
    result = rep.methods[0]
    assert rep.data_range == 65535
    assert result.stored.dtype == np.uint16
    assert result.psnr == pytest.approx(psnr_numpy(truth, result.stored, 65535), abs=1e-9)


def test_an_output_of_another_size_is_compared_on_the_aligned_overlap(tmp_path):
    path = tmp_path / "ones5.npy"
    np.save(path, np.ones((5, 5)) * 4 / 25)  # 5×5, padding 0: output 2H+3, centre 1 px in
    truth = camera(40)
    rep = report_arrays(truth, method_entries([], [str(path)], stride=2), stride=2, mode="L")
    result = rep.methods[0]
    assert result.output_shape == (43, 43)  # 2*19 + 5 for the 20×20 downsampled input
    assert result.offset == (1, 1)
    expected = psnr_numpy(truth, result.stored[1:41, 1:41], 255)
    assert result.psnr == pytest.approx(expected, abs=1e-9)
    assert expected > psnr_numpy(truth, result.stored[:40, :40], 255)  # the better alignment
    assert any("transconv:ones5" in n and "43×43" in n for n in rep.notes)


def test_without_round_trip_there_is_no_psnr_and_the_image_is_the_input():
    img = camera(24)
    rep = report_arrays(img, method_entries(stride=2), stride=2, mode="L", roundtrip=False)
    assert not rep.roundtrip
    for result in rep.methods:
        assert result.psnr is None and result.ssim is None
        assert result.output_shape == (48, 48)
    nearest = by_name(rep)["nearest"]
    np.testing.assert_array_equal(nearest.stored, np.repeat(np.repeat(img, 2, 0), 2, 1))
    assert any("max-unpool" in n for n in rep.notes)


def test_too_small_images_are_refused():
    with pytest.raises(InputError, match="too small"):
        report_arrays(camera(10), method_entries(["nearest"], stride=2), stride=2, mode="L")
    with pytest.raises(InputError, match="too small"):
        report_arrays(
            np.zeros((2, 9), np.uint8),
            method_entries(["nearest"], stride=2),
            stride=2,
            mode="L",
            roundtrip=False,
        )


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def test_json_of_a_report_round_trips_and_has_the_schema(ones_3x3):
    entries = method_entries(None, [str(ones_3x3)], stride=2)
    doc = report_arrays(camera(40), entries, stride=2, mode="L", name="cam").to_json()
    doc = json.loads(json.dumps(doc, allow_nan=False))
    assert {"image", "stride", "roundtrip", "methods"} <= set(doc)
    assert doc["image"] == "cam" and doc["stride"] == [2, 2] and doc["roundtrip"] is True
    names = [m["name"] for m in doc["methods"]]
    assert names == [*BUILTIN_METHODS, "transconv:ones3"]
    for m in doc["methods"]:
        assert isinstance(m["psnr"], float) and isinstance(m["ssim"], float)
        assert isinstance(m["cb_dc"], float) and isinstance(m["artifact_free"], bool)
        assert m["output_shape"] == ([41, 41] if m["name"] == "transconv:ones3" else [40, 40])
    kernel = doc["methods"][-1]["kernel"]
    assert kernel["phase_sums"] == [[4.0, 2.0], [2.0, 1.0]]
    assert kernel["overlap_min"] == 1 and kernel["overlap_max"] == 4
    assert kernel["phase_spread"] == pytest.approx(4 / 3)
    assert doc["methods"][0]["kernel"] is None


def test_non_finite_numbers_become_null():
    # 6×6 input at stride 2: the 8×8 crop of the output holds no whole 16×16 tile -> nan
    img = camera(6)
    doc = report_arrays(
        img, method_entries(["nearest"], stride=2), stride=2, mode="L", roundtrip=False
    ).to_json()
    assert doc["methods"][0]["cb_rel_tile_max"] is None
    json.dumps(doc, allow_nan=False)


# --------------------------------------------------------------------------------------------
# kernel repair
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [2, 3, 4])
@pytest.mark.parametrize("how", ["normalize-phases", "hold"])
def test_fix_kernel_makes_the_checkerboard_preset_artifact_free(how, stride):
    kernel = preset("checkerboard", stride)
    assert not kernel_analysis(kernel).artifact_free
    fixed = fix_kernel(kernel, how)
    analysis = kernel_analysis(fixed)
    assert analysis.artifact_free
    np.testing.assert_allclose(analysis.phase_sums, 1.0, rtol=1e-12)  # the level is kept
    # the output keeps its size
    entry_before = MethodEntry("a", "transconv", kernel)
    entry_after = MethodEntry("b", "transconv", fixed)
    from upsamp.methods import get_method

    method = get_method("transconv")
    assert method.output_shape((7, 9), entry_after.options((stride, stride))) == (
        method.output_shape((7, 9), entry_before.options((stride, stride)))
    )
    if how == "hold":
        assert fixed.weight.shape == (stride + stride, stride + stride)
        assert fixed.dilation == (1, 1)
    else:
        assert fixed.weight.shape == kernel.weight.shape and fixed.padding == kernel.padding


def test_fix_kernel_refuses_an_unknown_way_and_empty_phases():
    with pytest.raises(ParameterError, match="normalize-phases"):
        fix_kernel(preset("checkerboard", 2), "blur")
    with pytest.raises(ParameterError, match="hold"):
        fix_kernel(preset("bed-of-nails", 2), "normalize-phases")
    assert kernel_analysis(fix_kernel(preset("bed-of-nails", 2), "hold")).artifact_free


def test_kernel_analysis_uses_the_kernels_geometry_and_bias():
    k = Kernel(weight=np.ones((3, 3)), stride=(2, 2), padding=(1, 1), bias=np.array([1.0]))
    a = kernel_analysis(k)
    np.testing.assert_array_equal(a.phase_sums[0], [[1, 2], [2, 4]])  # the weights'
    np.testing.assert_array_equal(a.bias, [1.0])  # reported apart
    b = analyze_kernel(np.ones((3, 3)), stride=2, padding=1, bias=1.0)
    np.testing.assert_array_equal(a.phase_sums, b.phase_sums)


# --------------------------------------------------------------------------------------------
# enlarge --report
# --------------------------------------------------------------------------------------------


def test_report_of_an_enlarged_result():
    from upsamp import transconv

    src = camera(24)
    kernel = preset("checkerboard", 2)
    out = transconv(src, kernel.weight, **kernel.transconv_kwargs())
    rep = report_enlarged(
        src,
        out,
        method="transconv",
        options=MethodOptions(stride=(2, 2), kernel=kernel),
        name="x.png",
    )
    assert rep.stride == (2, 2) and not rep.roundtrip and rep.mode == "L"
    result = rep.methods[0]
    assert result.name == "transconv:checkerboard"
    assert result.cb_dc == pytest.approx(CB_ONES_3X3, abs=5e-6)
    assert result.verdict == "checkerboard" and result.psnr is None
    with pytest.raises(ParameterError, match="integer stride"):
        report_enlarged(src, out, method="bilinear", options=MethodOptions(scale=1.5))


# --------------------------------------------------------------------------------------------
# spectra
# --------------------------------------------------------------------------------------------


def test_spectrum_marks_the_checkerboard_bins_and_measures_their_share():
    i, j = np.mgrid[0:48, 0:48]
    smooth = 100 + 0.5 * i + 0.25 * j
    sp = spectrum(smooth + 3.0 * (-1.0) ** (i + j), 2, size=32)
    assert sp.log_magnitude.shape == (32, 32) and sp.dc == (16, 16)
    assert sorted(sp.grid_bins) == [(0, 0), (0, 16), (16, 0)]
    assert sp.log_magnitude[0, 0] == sp.log_magnitude.max()  # the (1/2, 1/2) grid is the peak
    crop = (smooth + 3.0 * (-1.0) ** (i + j))[8:40, 8:40]  # centred, on the phase grid
    mu = crop.reshape(16, 2, 16, 2).mean(axis=(0, 2))
    assert sp.energy_share == pytest.approx(mu.var() / crop.var(), rel=1e-9)
    sp3 = spectrum(smooth, 3, size=32)
    assert sp3.log_magnitude.shape == (30, 30)
    assert len(sp3.grid_bins) == 8 and (5, 5) in sp3.grid_bins
    assert spectrum(smooth, 2, size=32).energy_share < 0.05


# --------------------------------------------------------------------------------------------
# writing outputs
# --------------------------------------------------------------------------------------------


def test_save_outputs_writes_what_was_measured(tmp_path):
    truth = chelsea()
    entries = method_entries(["nearest", "bilinear"], ["checkerboard"], stride=2)
    rep = report_arrays(truth, entries, stride=2, mode="RGB")
    folder = tmp_path / "new" / "outputs"
    written = save_outputs(rep, folder)
    names = sorted(p.name for p in written)
    assert names == [
        "bilinear.png",
        "ground-truth.png",
        "nearest.png",
        "transconv_checkerboard.png",
    ]
    with Image.open(folder / "ground-truth.png") as im:
        g = np.array(im)
    np.testing.assert_array_equal(g, truth)
    for result in rep.methods:
        with Image.open(output_files(rep, folder)[result.name]) as im:
            saved = np.array(im)
        assert saved.dtype == np.uint8 and saved.shape == truth.shape
        assert psnr_numpy(g, saved, 255) == pytest.approx(result.psnr, abs=1e-9)


def test_save_outputs_never_replaces_without_overwrite(tmp_path):
    rep = report_arrays(
        camera(24), method_entries(["nearest", "bilinear"], stride=2), stride=2, mode="L"
    )
    (tmp_path / "bilinear.png").write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists"):
        save_outputs(rep, tmp_path)
    assert (tmp_path / "bilinear.png").read_bytes() == b"precious"
    assert not (tmp_path / "nearest.png").exists()  # checked before anything is written
    save_outputs(rep, tmp_path, overwrite=True)
    with Image.open(tmp_path / "bilinear.png") as im:
        assert im.size == (24, 24)


def test_save_outputs_refuses_a_file_in_place_of_the_folder(tmp_path):
    rep = report_arrays(camera(24), method_entries(["nearest"], stride=2), stride=2, mode="L")
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        save_outputs(rep, tmp_path / "out")
