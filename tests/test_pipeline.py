"""upsamp.pipeline: output naming, output shapes, kernel building and settings, without Click."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from upsamp import resources
from upsamp.errors import KernelError, OutputError, ParameterError
from upsamp.kernels import build_kernel, preset, preset_names
from upsamp.methods import MethodOptions
from upsamp.methods.transconv import transconv_output_size
from upsamp.pipeline import (
    EnlargeSettings,
    default_output_path,
    enlarge_file,
    output_shape,
)


def settings(method: str, **options) -> EnlargeSettings:
    return EnlargeSettings(method=method, options=MethodOptions(**options))


# ------------------------------------------------------------------------------------------
# default_output_path
# ------------------------------------------------------------------------------------------

PHOTO = Path("some/dir/photo.png")


@pytest.mark.parametrize(
    "s, name",
    [
        (settings("nearest"), "photo_nearestx2.png"),
        (settings("nearest", stride=(4, 4)), "photo_nearestx4.png"),
        (settings("bilinear", stride=(2, 3)), "photo_bilinearx2x3.png"),
        (settings("bed-of-nails", stride=(3, 3)), "photo_bed-of-nailsx3.png"),
        (settings("bilinear", scale=1.5), "photo_bilinearx1.5.png"),
        (settings("nearest", scale=3.0), "photo_nearestx3.png"),
        (settings("bilinear", size=(20, 30)), "photo_bilinear_30x20.png"),  # (h, w) -> WxH
        (settings("transconv", stride=(2, 2), kernel=preset("bilinear", 3)),
         "photo_transconvx3.png"),
        (settings("max-unpool", stride=(2, 2)), "photo_max-unpoolx2.png"),
    ],
)
def test_default_output_path(s, name):
    out = default_output_path(PHOTO, s)
    assert out == PHOTO.with_name(name)


def test_default_output_path_npy_input_gives_npy():
    assert default_output_path(Path("x.npy"), settings("nearest")) == Path("x_nearestx2.npy")


def test_default_output_path_keeps_the_extension_and_folder():
    out = default_output_path(Path("/data/a.b/pic.JPG"), settings("bilinear"))
    assert out == Path("/data/a.b/pic_bilinearx2.JPG")


def test_default_output_path_suffix_argument():
    assert default_output_path(PHOTO, settings("nearest"), ".tif").name == "photo_nearestx2.tif"


def test_default_output_path_ignores_options_the_method_does_not_use():
    s = settings("bed-of-nails", stride=(2, 2), scale=1.5, size=(5, 5))
    assert default_output_path(PHOTO, s).name == "photo_bed-of-nailsx2.png"


def test_default_output_path_max_unpool_uses_the_indices_stride(tmp_path):
    """The enlargement of max-unpool is the stride stored in the indices file."""
    idx = tmp_path / "i.npz"
    np.savez(idx, indices=np.zeros((2, 2, 1), dtype=np.int64), input_shape=np.array([6, 6]),
             stride=np.array([3, 3]))
    s = EnlargeSettings(method="max-unpool", options=MethodOptions(), indices_file=idx)
    assert default_output_path(tmp_path / "p.png", s).name == "p_max-unpoolx3.png"


# ------------------------------------------------------------------------------------------
# output_shape
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s, shape_in, expected",
    [
        (settings("nearest"), (7, 9), (14, 18)),
        (settings("nearest", stride=(3, 2)), (7, 9), (21, 18)),
        (settings("nearest", scale=1.5), (7, 9), (10, 13)),
        (settings("nearest", size=(8, 11)), (7, 9), (8, 11)),
        (settings("bilinear"), (7, 9, 3), (14, 18, 3)),
        (settings("bilinear", scale=(2.0, 1.5)), (7, 9), (14, 13)),
        (settings("bilinear", size=(20, 30)), (7, 9, 3), (20, 30, 3)),
        (settings("bed-of-nails", stride=(2, 3)), (7, 9), (14, 27)),
        (settings("transconv"), (7, 9), (14, 18)),
        (settings("transconv", kernel=preset("bicubic", 3)), (7, 9, 3), (21, 27, 3)),
        (settings("transconv", kernel=preset("checkerboard", 2)), (7, 9), (14, 18)),
    ],
)
def test_output_shape(s, shape_in, expected):
    assert output_shape(shape_in, s) == expected


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("stride", [2, 3, 4])
def test_output_shape_every_preset_enlarges_by_exactly_the_stride(name, stride):
    s = settings("transconv", kernel=preset(name, stride))
    assert output_shape((5, 6), s) == (5 * stride, 6 * stride)


def test_output_shape_transconv_kernel_file(tmp_path):
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    k = build_kernel(str(tmp_path / "k.npy"), stride=(2, 2))
    assert output_shape((7, 9), settings("transconv", kernel=k)) == (15, 19)  # (n-1)*2 + 3


def test_output_shape_4d_kernel_sets_the_channel_count():
    k = build_kernel("bilinear", stride=(2, 2))
    from dataclasses import replace

    k4 = replace(k, weight=np.ones((3, 2, 4, 4)))
    assert output_shape((7, 9, 3), settings("transconv", kernel=k4)) == (14, 18, 2)
    k1 = replace(k, weight=np.ones((3, 1, 4, 4)))
    assert output_shape((7, 9, 3), settings("transconv", kernel=k1)) == (14, 18, 1)


def test_output_shape_max_unpool_from_indices_file(tmp_path):
    idx = tmp_path / "i.npz"
    np.savez(idx, indices=np.zeros((3, 4, 1), dtype=np.int64), input_shape=np.array([7, 9]),
             stride=np.array([2, 2]))
    s = EnlargeSettings(method="max-unpool", indices_file=idx)
    assert output_shape((3, 4), s) == (7, 9)
    np.savez(idx, indices=np.zeros((2, 2, 1), dtype=np.int64), input_shape=np.array([6, 6]),
             stride=np.array([3, 3]))
    assert output_shape((2, 2), s) == (6, 6)


def test_enlarge_file_reads_the_indices_file_once(tmp_path, monkeypatch):
    import upsamp.pipeline as pipeline
    from upsamp.indices import load_indices

    idx = tmp_path / "i.npz"
    # positions of a 4x4 image pooled by 2: the top-left of each window
    np.savez(idx, indices=np.array([[[0], [2]], [[8], [10]]], dtype=np.int64),
             input_shape=np.array([4, 4]), stride=np.array([2, 2]))
    Image.fromarray(np.array([[10, 20], [30, 40]], dtype=np.uint8), "L").save(tmp_path / "s.png")
    reads = []

    def counting(path):
        reads.append(path)
        return load_indices(path)

    monkeypatch.setattr(pipeline, "load_indices", counting)
    s = EnlargeSettings(method="max-unpool", indices_file=idx, stride_given=False)
    out = enlarge_file(tmp_path / "s.png", None, s)
    assert len(reads) == 1
    assert out.output.name == "s_max-unpoolx2.png"
    got = np.asarray(Image.open(out.output))
    want = np.zeros((4, 4), dtype=np.uint8)
    want[0, 0], want[0, 2], want[2, 0], want[2, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(got, want)


def test_output_shape_max_unpool_without_indices_is_stride_times():
    assert output_shape((3, 4), settings("max-unpool", stride=(2, 2))) == (6, 8)


# ------------------------------------------------------------------------------------------
# build_kernel
# ------------------------------------------------------------------------------------------


def test_build_kernel_default_is_the_bilinear_preset_at_stride_2():
    k = build_kernel(None, stride=None)
    ref = preset("bilinear", 2)
    np.testing.assert_array_equal(k.weight, ref.weight)
    assert (k.stride, k.padding, k.edge) == ((2, 2), (1, 1), "replicate")


def test_build_kernel_preset_is_built_for_the_stride():
    k = build_kernel("bilinear", stride=(3, 3))
    ref = preset("bilinear", 3)
    np.testing.assert_array_equal(k.weight, ref.weight)
    assert k.stride == (3, 3) and k.padding == ref.padding


def test_build_kernel_file_without_stride_is_used_at_stride_2(tmp_path):
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    k = build_kernel(str(tmp_path / "k.npy"), stride=None)
    assert k.stride == (2, 2)
    assert k.padding == (0, 0) and k.edge == "zero"


def _json_kernel(tmp_path: Path) -> Path:
    path = tmp_path / "k.json"
    path.write_text(json.dumps({
        "weight": np.ones((4, 4)).tolist(), "stride": 3, "padding": [1, 2], "dilation": 1,
        "edge": "reflect", "bias": 0.5,
    }))
    return path


def test_build_kernel_file_keeps_its_own_geometry(tmp_path):
    k = build_kernel(str(_json_kernel(tmp_path)), stride=None)
    assert k.stride == (3, 3)
    assert k.padding == (1, 2)
    assert k.edge == "reflect"
    np.testing.assert_array_equal(k.bias, [0.5])


def test_build_kernel_overrides_win_over_the_file(tmp_path):
    k = build_kernel(str(_json_kernel(tmp_path)), stride=(2, 2), padding=(0, 0),
                     output_padding=(1, 1), dilation=(2, 2), edge="zero")
    assert k.stride == (2, 2)
    assert k.padding == (0, 0)
    assert k.output_padding == (1, 1)
    assert k.dilation == (2, 2)
    assert k.edge == "zero"
    np.testing.assert_array_equal(k.bias, [0.5])  # not overridden


def test_build_kernel_overrides_a_preset():
    k = build_kernel("bicubic", stride=(2, 2), edge="zero", padding=(0, 0))
    assert k.edge == "zero" and k.padding == (0, 0)
    np.testing.assert_array_equal(k.weight, preset("bicubic", 2).weight)


@pytest.mark.parametrize("ksize", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_build_kernel_padding_same(tmp_path, ksize, stride, dilation):
    np.save(tmp_path / "k.npy", np.ones((ksize, ksize)))
    effective = dilation * (ksize - 1) + 1
    excess = effective - stride
    # 2p - op = excess with 0 <= op and (op < stride or op < dilation): impossible when the
    # kernel is smaller than the stride, or when op must be 1 but stride = dilation = 1
    if excess < 0 or (excess % 2 and stride == 1 and dilation == 1):
        with pytest.raises(ParameterError):
            build_kernel(str(tmp_path / "k.npy"), stride=(stride, stride), padding="same",
                         dilation=(dilation, dilation))
        return
    k = build_kernel(str(tmp_path / "k.npy"), stride=(stride, stride), padding="same",
                     dilation=(dilation, dilation))
    for n in (1, 4, 7):
        out = transconv_output_size(n, ksize, stride=stride, padding=k.padding[0],
                                    output_padding=k.output_padding[0], dilation=dilation)
        assert out == n * stride
    assert k.output_padding[0] < stride or k.output_padding[0] < dilation


def test_build_kernel_padding_same_non_square(tmp_path):
    np.save(tmp_path / "k.npy", np.ones((3, 6)))
    k = build_kernel(str(tmp_path / "k.npy"), stride=(2, 3), padding="same")
    s = settings("transconv", kernel=k)
    assert output_shape((5, 7), s) == (10, 21)


def test_build_kernel_normalize():
    for name in ("bed-of-nails", "checkerboard", "bicubic"):
        k = build_kernel(name, stride=(3, 3), normalize_phases=True)
        assert k.weight.sum() / 9 == pytest.approx(1.0)
    raw = build_kernel("bed-of-nails", stride=(2, 2))
    assert raw.weight.sum() / 4 == pytest.approx(0.25)


def test_build_kernel_normalize_zero_sum(tmp_path):
    np.save(tmp_path / "k.npy", np.array([[1.0, -1.0]]))
    with pytest.raises(KernelError):
        build_kernel(str(tmp_path / "k.npy"), stride=(2, 2), normalize_phases=True)


def test_build_kernel_rejects_output_padding_too_large():
    k = build_kernel("nearest", stride=(2, 2), output_padding=(2, 2))
    with pytest.raises(ParameterError):
        output_shape((3, 3), settings("transconv", kernel=k))


# ------------------------------------------------------------------------------------------
# EnlargeSettings.parameters
# ------------------------------------------------------------------------------------------


def test_parameters_nearest():
    p = settings("nearest", stride=(3, 3)).parameters()
    assert p == {"stride": [3, 3], "range": "clip", "alpha": "premultiplied", "linear": False}


def test_parameters_scale_and_size():
    assert settings("nearest", scale=1.5).parameters()["scale"] == 1.5
    assert settings("bilinear", scale=(1.5, 2.0)).parameters()["scale"] == [1.5, 2.0]
    p = settings("bilinear", size=(20, 30)).parameters()
    assert p["size"] == [30, 20]  # W, H as on the command line
    assert p["align_corners"] is False


def test_parameters_leave_out_options_the_method_does_not_use():
    p = settings("bed-of-nails", scale=1.5, size=(3, 3), align_corners=True).parameters()
    assert p == {"stride": [2, 2], "range": "clip", "alpha": "premultiplied", "linear": False}


def test_parameters_transconv_describe_the_kernel():
    k = build_kernel("bicubic", stride=(3, 3))
    s = EnlargeSettings(method="transconv", options=MethodOptions(stride=(3, 3), kernel=k),
                        range_mode="rescale")
    p = s.parameters()
    assert p["range"] == "rescale"
    kd = p["kernel"]
    assert kd["name"] == "bicubic"
    assert kd["shape"] == list(k.weight.shape)
    assert kd["stride"] == [3, 3]
    assert kd["padding"] == list(k.padding)
    assert kd["output_padding"] == [0, 0]
    assert kd["dilation"] == [1, 1]
    assert kd["edge"] == "replicate"
    assert kd["bias"] is None
    json.dumps(p)  # JSON-ready


def test_parameters_max_unpool(tmp_path):
    s = EnlargeSettings(method="max-unpool", indices_file=tmp_path / "i.npz")
    p = s.parameters()
    assert p["indices"] == str(tmp_path / "i.npz")
    json.dumps(p)
    g = EnlargeSettings(method="max-unpool", guide_file=Path("g.png")).parameters()
    assert g["guide"] == "g.png"


# ------------------------------------------------------------------------------------------
# enlarge_file and the memory estimate
# ------------------------------------------------------------------------------------------


def test_enlarge_file_outcome(tmp_path, small_rgba):
    out = tmp_path / "o.png"
    outcome = enlarge_file(small_rgba, out, settings("nearest"), keep_arrays=True)
    assert outcome.output == out and out.is_file()
    assert outcome.input_shape == (10, 12, 3)
    assert outcome.output_shape == (20, 24, 3)
    assert outcome.clipped_fraction == 0.0
    assert outcome.result is not None and outcome.result.shape == (20, 24, 3)
    assert set(outcome.to_json()) == {
        "input", "output", "method", "parameters", "input_shape", "output_shape",
        "frames", "input_frames", "encoder", "notes", "clipped_fraction", "seconds",
    }


def test_enlarge_file_default_output(tmp_path, small_l):
    outcome = enlarge_file(small_l, None, settings("bed-of-nails", stride=(3, 3)))
    assert outcome.output == tmp_path / "small_l_bed-of-nailsx3.png"
    with Image.open(outcome.output) as im:
        assert im.size == (27, 21)


def test_not_enough_memory_is_refused_before_allocating(tmp_path, small_rgb, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 1000)
    with pytest.raises(OutputError, match="memory"):
        enlarge_file(small_rgb, tmp_path / "o.png", settings("nearest"))
    assert not (tmp_path / "o.png").exists()


def test_not_enough_memory_through_the_cli(run_cli, tmp_path, small_rgb, monkeypatch, listing):
    monkeypatch.setattr(resources, "available_memory", lambda: 1000)
    before = listing(tmp_path)
    result = run_cli("enlarge", small_rgb, "-o", "o.png")
    assert result.exit_code == 1
    assert result.stderr.startswith("upsamp: error: ") and "memory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert listing(tmp_path) == before


def test_estimate_bytes_grows_with_the_output():
    small = resources.estimate_bytes((10, 10), (20, 20))
    big = resources.estimate_bytes((10, 10), (200, 200))
    assert big > small > 20 * 20 * 4
