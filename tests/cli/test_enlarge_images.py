"""Real images through the command line: premultiplied alpha, linear light, every frame,
backgrounds, metadata, encoding, pipes and ImageMagick geometry (issue 10).

References are independent of the code under test: plain-loop bilinear
(``tests/reference_impl.py``), composites computed here with numpy, Pillow's RGBA resize,
Pillow's ImageCms, tifffile, and the arithmetic of each size form.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from reference_impl import loop_bilinear

from upsamp import imageio
from upsamp.cli import options as cli_options
from upsamp.methods import MethodOptions
from upsamp.pipeline import ALPHA_MODES, EnlargeSettings, enlarge_file

REPO = Path(__file__).resolve().parents[2]
STRIDE = 4


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)


def assert_one_line_failure(result, *needles: str, code: int | None = None) -> str:
    assert result.exit_code != 0, (result.stdout, result.stderr)
    if code is not None:
        assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(("upsamp: error", "Error"))]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _disc(size: int = 24) -> np.ndarray:
    """RGBA uint8: a white disc anti-aliased by 4x4 supersampling, on transparent black."""
    sub = 4
    yy, xx = np.mgrid[0 : size * sub, 0 : size * sub]
    centre = size / 2
    inside = ((yy + 0.5) / sub - centre) ** 2 + ((xx + 0.5) / sub - centre) ** 2 < (
        size * 0.35
    ) ** 2
    coverage = inside.reshape(size, sub, size, sub).mean(axis=(1, 3))
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3][coverage > 0] = 255
    rgba[..., 3] = np.rint(coverage * 255).astype(np.uint8)
    return rgba


def _over(colour: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    a = alpha.astype(np.float64)[..., None] / 255.0
    return colour.astype(np.float64) * a + np.asarray(background, np.float64) * (1 - a)


def _bilinear_each(x: np.ndarray, s: int = STRIDE) -> np.ndarray:
    """Plain-loop bilinear (half-pixel centres) of every channel."""
    h, w = x.shape[:2]
    if x.ndim == 2:
        return np.asarray(loop_bilinear(x, h * s, w * s), dtype=np.float64)
    return np.stack(
        [np.asarray(loop_bilinear(x[..., c], h * s, w * s)) for c in range(x.shape[2])], axis=2
    )


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im)


@pytest.fixture
def disc(tmp_path: Path) -> Path:
    path = tmp_path / "disc.png"
    Image.fromarray(_disc()).save(path)
    return path


# ------------------------------------------------------------------------------------------
# premultiplied alpha
# ------------------------------------------------------------------------------------------

BACKGROUNDS = [(0, 0, 0), (64, 64, 64), (128, 128, 128), (255, 255, 255), (30, 200, 90)]


def _halo(run_cli, disc: Path, alpha: str, background) -> float:
    out = Path(f"out_{alpha}.png")
    if not out.exists():
        assert_ok(run_cli("enlarge", disc, "-m", "bilinear", "-s", STRIDE, "--alpha", alpha,
                          "-o", out))  # fmt: skip
    got = _read(out).astype(np.float64)
    rgba = _disc()
    reference = _bilinear_each(_over(rgba[..., :3], rgba[..., 3], background))
    return float(np.abs(_over(got[..., :3], got[..., 3], background) - reference).max())


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_premultiplied_composite_equals_enlarged_composite(run_cli, disc, background):
    """Over any background, the output composited equals the composite enlarged (bilinear is
    linear) to within the rounding of the stored colour and alpha."""
    assert _halo(run_cli, disc, "premultiplied", background) <= 1.0


def test_separate_alpha_has_the_halo(run_cli, disc):
    assert _halo(run_cli, disc, "separate", (128, 128, 128)) > 20


def test_premultiplied_against_numpy_reference(run_cli, tmp_path):
    """premultiply -> plain-loop bilinear -> divide, written out here, on random RGBA."""
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (7, 9, 4)).astype(np.uint8)
    rgba[2:4, 3:6, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "r.png")
    assert_ok(run_cli("enlarge", "r.png", "-m", "bilinear", "-s", 2, "-o", "r.npy"))
    got = np.load(tmp_path / "r.npy")
    a = rgba[..., 3:].astype(np.float64) / 255
    big_pre = _bilinear_each(rgba[..., :3] * a, 2)
    big_a = _bilinear_each(rgba[..., 3].astype(np.float64), 2)
    want = np.where(big_a[..., None] > 0, big_pre * 255 / np.maximum(big_a[..., None], 1e-9), 0)
    np.testing.assert_allclose(got[..., 3], big_a, atol=1e-3)
    np.testing.assert_allclose(got[..., :3], want, rtol=1e-4, atol=1e-2)


def test_premultiplied_against_pillow_rgba_resize(run_cli, disc):
    assert_ok(run_cli("enlarge", disc, "-m", "bilinear", "-s", STRIDE, "-o", "o.png"))
    ours = _read(Path("o.png")).astype(np.float64)
    rgba = _disc()
    h, w = rgba.shape[:2]
    pil = np.array(
        Image.fromarray(rgba).resize((w * STRIDE, h * STRIDE), Image.Resampling.BILINEAR)
    ).astype(np.float64)
    inner = (slice(STRIDE, -STRIDE), slice(STRIDE, -STRIDE))  # Pillow's own border rule
    for background in BACKGROUNDS:
        a = _over(ours[..., :3], ours[..., 3], background)[inner]
        b = _over(pil[..., :3], pil[..., 3], background)[inner]
        assert np.abs(a - b).max() <= 2.0


@pytest.mark.parametrize("method", ["nearest", "bed-of-nails"])
def test_copying_methods_give_the_same_result_either_way(run_cli, tmp_path, method):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (6, 7, 4)).astype(np.uint8)
    rgba[0, :, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "r.png")
    assert_ok(run_cli("enlarge", "r.png", "-m", method, "--alpha", "separate", "-o", "a.png"))
    assert_ok(run_cli("enlarge", "r.png", "-m", method, "-o", "b.png"))
    assert_ok(run_cli("enlarge", "r.png", "-m", method, "--linear", "-o", "c.png"))
    a, b, c = _read(tmp_path / "a.png"), _read(tmp_path / "b.png"), _read(tmp_path / "c.png")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    if method == "nearest":
        np.testing.assert_array_equal(a, np.repeat(np.repeat(rgba, 2, 0), 2, 1))


def test_opaque_image_keeps_the_exact_integer_path(run_cli, tmp_path):
    """An RGBA image that is opaque everywhere enlarges to the same colour as its RGB."""
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (6, 7, 3)).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full((6, 7, 1), 255, np.uint8)], axis=2)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert_ok(run_cli("enlarge", "rgb.png", "-m", "bilinear", "-o", "a.png"))
    assert_ok(run_cli("enlarge", "rgba.png", "-m", "bilinear", "-o", "b.png"))
    np.testing.assert_array_equal(_read(tmp_path / "a.png"), _read(tmp_path / "b.png")[..., :3])


def test_16bit_rgba_keeps_16bit_alpha(run_cli, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 65536, (5, 6, 4)).astype(np.uint16)
    rgba[..., 3] = np.linspace(0, 65535, 30).reshape(5, 6).astype(np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    assert_ok(run_cli("enlarge", "in.tif", "-m", "bilinear", "-s", 2, "-o", "out.tif"))
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.dtype == np.uint16 and out.shape == (10, 12, 4)
    want = np.clip(np.rint(_bilinear_each(rgba[..., 3].astype(np.float64), 2)), 0, 65535)
    np.testing.assert_array_equal(out[..., 3], want)
    assert out[..., 3].max() > 255


# ------------------------------------------------------------------------------------------
# linear light
# ------------------------------------------------------------------------------------------


def _srgb_decode(v: np.ndarray, top: float) -> np.ndarray:
    x = v / top
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


@pytest.mark.parametrize("deep", [False, True])
def test_linear_keeps_the_light_of_stripes(run_cli, tmp_path, deep):
    top = 65535 if deep else 255
    dtype = np.uint16 if deep else np.uint8
    stripes = np.zeros((32, 32), dtype)
    stripes[:, ::2] = top
    if deep:
        tifffile = pytest.importorskip("tifffile")
        tifffile.imwrite(tmp_path / "s.tif", stripes)
        name = "s.tif"
    else:
        Image.fromarray(stripes).save(tmp_path / "s.png")
        name = "s.png"
    assert_ok(run_cli("enlarge", name, "-m", "bilinear", "--scale", "1.5", "--linear",
                      "-o", "lin" + Path(name).suffix))  # fmt: skip
    assert_ok(run_cli("enlarge", name, "-m", "bilinear", "--scale", "1.5",
                      "-o", "plain" + Path(name).suffix))  # fmt: skip
    light_in = _srgb_decode(stripes.astype(np.float64), top).mean()
    lin = np.array(Image.open(tmp_path / ("lin" + Path(name).suffix))).astype(np.float64)
    plain = np.array(Image.open(tmp_path / ("plain" + Path(name).suffix))).astype(np.float64)
    assert abs(_srgb_decode(lin, top).mean() / light_in - 1) < 0.01
    assert _srgb_decode(plain, top).mean() / light_in < 0.9  # sRGB resampling darkens


def test_linear_on_npy_is_refused(run_cli, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 4)))
    result = run_cli("enlarge", "x.npy", "--linear", "-o", "y.npy")
    assert_one_line_failure(result, "--linear", "transfer function")
    assert not (tmp_path / "y.npy").exists()


# ------------------------------------------------------------------------------------------
# frames
# ------------------------------------------------------------------------------------------


def _animation(path: Path, n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (10, 12, 3), dtype=np.uint8) for _ in range(n)]
    images = [Image.fromarray(f).quantize(256, dither=Image.Dither.NONE) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=[80, 120, 200][:n],
                   loop=0, disposal=1)  # fmt: skip
    return frames


def _frames_of(path: Path) -> tuple[list[np.ndarray], list[int], int | None]:
    arrays, durations = [], []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            arrays.append(np.array(im.convert("RGB")))
            durations.append(im.info.get("duration"))
        loop = im.info.get("loop")
    return arrays, durations, loop


def test_every_frame_is_enlarged(run_cli, tmp_path):
    _animation(tmp_path / "anim.gif")
    result = run_cli("enlarge", "anim.gif", "-m", "bilinear", "-o", "big.png", "--json")
    assert_ok(result)
    assert json.loads(result.stdout)["frames"] == 3
    frames, durations, loop = _frames_of(tmp_path / "big.png")
    assert len(frames) == 3 and durations == [80, 120, 200] and loop == 0
    source, _, _ = _frames_of(tmp_path / "anim.gif")  # each frame as Pillow shows it
    for i, frame in enumerate(frames):
        assert_ok(run_cli("enlarge", "anim.gif", "-m", "bilinear", "--frame", i, "-o", f"f{i}.png"))
        np.testing.assert_array_equal(frame, _read(tmp_path / f"f{i}.png"))
        want = np.clip(np.rint(_bilinear_each(source[i].astype(np.float64), 2)), 0, 255)
        np.testing.assert_array_equal(frame, want)


def test_several_frames_need_a_format_that_holds_them(run_cli, tmp_path):
    _animation(tmp_path / "anim.gif")
    result = run_cli("enlarge", "anim.gif", "-o", "big.jpg")
    assert_one_line_failure(result, "3 frames", "--frame N")
    assert not (tmp_path / "big.jpg").exists()
    result = run_cli("enlarge", "anim.gif", "--frame", 7, "-o", "big.png")
    assert_one_line_failure(result, "frame 7", "3 frames")
    assert not (tmp_path / "big.png").exists()
    assert_ok(run_cli("enlarge", "anim.gif", "--frame", 2, "-o", "one.jpg"))


def test_batch_and_report_see_every_frame(run_cli, tmp_path):
    (tmp_path / "in").mkdir()
    _animation(tmp_path / "in" / "anim.gif")
    result = run_cli("batch", "in", "-o", "out", "--json", "-j", 1)
    assert_ok(result)
    record = json.loads(result.stdout)
    assert record["status"] == "ok" and record["frames"] == 3
    assert len(_frames_of(Path(record["output"]))[0]) == 3
    result = run_cli("batch", "in", "-o", "jpg", "--format", "jpeg", "--json", "-j", 1)
    record = json.loads(result.stdout)
    assert record["status"] == "failed" and "--frame N" in record["reason"]
    result = run_cli("report", "in/anim.gif", "--methods", "bilinear", "--no-roundtrip")
    assert_ok(result)
    assert "3 frames; this is frame 0" in result.stderr
    result = run_cli("report", "in/anim.gif", "--methods", "bilinear", "--frame", 4)
    assert_one_line_failure(result, "frame 4")


# ------------------------------------------------------------------------------------------
# background, metadata, encoding
# ------------------------------------------------------------------------------------------


def test_background_flattens_alpha(run_cli, disc, tmp_path):
    result = run_cli("enlarge", disc, "-s", STRIDE, "-o", "d.jpg")
    assert_one_line_failure(result, "alpha", "--background")
    assert not (tmp_path / "d.jpg").exists()
    assert_ok(run_cli("enlarge", disc, "-s", STRIDE, "--background", "#1ec85a", "-o", "d.png"))
    flat = _read(tmp_path / "d.png")
    assert flat.shape == (96, 96, 3)
    rgba = _disc()
    want = _bilinear_each(_over(rgba[..., :3], rgba[..., 3], (30, 200, 90)))
    assert np.abs(flat - want).max() <= 1.0
    assert_ok(run_cli("enlarge", disc, "-s", STRIDE, "--background", "white", "-o", "d.jpg"))
    with Image.open(tmp_path / "d.jpg") as im:
        assert im.mode == "RGB" and im.size == (96, 96)


def test_gray_with_alpha_on_a_colour_becomes_rgb(run_cli, tmp_path):
    la = np.stack([np.full((4, 4), 200, np.uint8), np.full((4, 4), 0, np.uint8)], axis=2)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    assert_ok(run_cli("enlarge", "la.png", "-m", "nearest", "--background", "red", "-o", "o.png"))
    out = _read(tmp_path / "o.png")
    assert out.shape == (8, 8, 3) and (out == [255, 0, 0]).all()


def test_bad_background_is_one_line(run_cli, disc, tmp_path):
    result = run_cli("enlarge", disc, "--background", "not-a-colour", "-o", "o.png")
    assert_one_line_failure(result, "not-a-colour", code=2)
    assert not (tmp_path / "o.png").exists()


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


def _jpeg_with_metadata(path: Path) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "Alice"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 0.0)}  # GPS
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = np.random.default_rng(6).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, quality=98, subsampling=0, exif=exif.tobytes(), xmp=XMP,
                              comment=b"hello", icc_profile=icc)  # fmt: skip
    return icc


def test_metadata_kept_and_stripped(run_cli, tmp_path):
    icc = _jpeg_with_metadata(tmp_path / "m.jpg")
    assert_ok(run_cli("enlarge", "m.jpg", "-o", "kept.jpg"))
    assert_ok(run_cli("enlarge", "m.jpg", "--strip", "-o", "bare.jpg"))
    kept = imageio.load_image(tmp_path / "kept.jpg").info
    bare = imageio.load_image(tmp_path / "bare.jpg").info
    exif = Image.Exif()
    exif.load(kept["exif"])
    assert 0x8825 in exif and XMP in kept["xmp"] and kept["comment"] == b"hello"
    assert kept["icc_profile"] == icc
    assert set(bare) <= {"icc_profile", "dpi"} and bare["icc_profile"] == icc


def test_note_names_metadata_the_output_cannot_hold(run_cli, tmp_path):
    _jpeg_with_metadata(tmp_path / "m.jpg")
    result = run_cli("enlarge", "m.jpg", "-o", "m.png", "--json")
    assert_ok(result)
    notes = json.loads(result.stdout)["notes"]
    assert any("PNG cannot hold" in n and "comment" in n for n in notes)
    assert any("PNG cannot hold" in ln for ln in result.stderr.splitlines())


def test_jpeg_subsampling_kept_or_chosen(run_cli, tmp_path):
    from PIL import JpegImagePlugin

    _jpeg_with_metadata(tmp_path / "m.jpg")
    result = run_cli("enlarge", "m.jpg", "-o", "a.jpg", "--json")
    assert json.loads(result.stdout)["encoder"]["subsampling"] == "4:4:4"
    result = run_cli("enlarge", "m.jpg", "-o", "b.jpg", "--subsampling", "420", "--json")
    assert json.loads(result.stdout)["encoder"]["subsampling"] == "4:2:0"
    with Image.open(tmp_path / "a.jpg") as a, Image.open(tmp_path / "b.jpg") as b:
        assert JpegImagePlugin.get_sampling(a) == 0 and JpegImagePlugin.get_sampling(b) == 2


def test_tiff_compression_chosen(run_cli, tmp_path, small_rgb):
    result = run_cli("enlarge", small_rgb, "-o", "o.tif", "--tiff-compression", "deflate",
                     "--json")  # fmt: skip
    assert json.loads(result.stdout)["encoder"] == {"format": "TIFF", "compression": "deflate"}
    with Image.open(tmp_path / "o.tif") as im:
        assert im.info["compression"] == "tiff_adobe_deflate"


def test_cmyk_with_profile_through_enlarge(run_cli, tmp_path):
    profile = next(
        (p for p in (Path("/usr/share/color/icc/ghostscript/default_cmyk.icc"),
                     Path("/usr/share/color/icc/ghostscript/ps_cmyk.icc")) if p.is_file()),
        None,
    )  # fmt: skip
    if profile is None:
        pytest.skip("no CMYK ICC profile installed")
    cmyk = np.random.default_rng(1).integers(0, 256, (32, 48, 4), dtype=np.uint8)
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "c.jpg", icc_profile=profile.read_bytes())
    assert_ok(run_cli("enlarge", "c.jpg", "-m", "nearest", "-o", "c.png"))
    with Image.open(tmp_path / "c.jpg") as im:
        want = np.array(ImageCms.profileToProfile(
            im, ImageCms.getOpenProfile(str(profile)), ImageCms.createProfile("sRGB"),
            outputMode="RGB"))  # fmt: skip
    out = _read(tmp_path / "c.png")[::2, ::2].astype(np.float64)
    assert np.abs(out - want).mean() < 1.0
    with Image.open(tmp_path / "c.png") as im:
        srgb = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(srgb)


# ------------------------------------------------------------------------------------------
# pipes
# ------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize(("source", "fmt"), [("disc.png", "png"), ("x.npy", "npy")])
def test_stdin_to_stdout_is_byte_identical_to_files(tmp_path, disc, source, fmt):
    np.save(tmp_path / "x.npy", np.random.default_rng(7).random((5, 6)).astype(np.float32))
    args = [sys.executable, "-m", "upsamp", "enlarge", "-m", "bilinear", "-s", "3"]
    run = subprocess.run(args + [source, "-o", f"file.{fmt}"], cwd=tmp_path, env=_env(),
                         capture_output=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    with open(tmp_path / source, "rb") as stdin:
        piped = subprocess.run(
            args + ["-", "-o", "-", "--format", fmt],
            stdin=stdin, cwd=tmp_path, env=_env(), capture_output=True, timeout=120,
        )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == (tmp_path / f"file.{fmt}").read_bytes()
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(["disc.png", "x.npy", f"file.{fmt}"])  # nothing else


def test_stdout_on_a_terminal_is_refused(tmp_path, disc):
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "upsamp", "enlarge", str(disc), "-o", "-", "--format", "png"],
            stdout=follower, stderr=subprocess.PIPE, cwd=tmp_path, env=_env(), timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert run.returncode == 1
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "terminal" in lines[0]


def test_stdout_refuses_text_options(run_cli, disc):
    result = run_cli("enlarge", disc, "-o", "-", "--format", "png", "--json")
    assert_one_line_failure(result, "--json", code=2)


def test_format_must_match_the_output_name(run_cli, disc, tmp_path):
    result = run_cli("enlarge", disc, "-o", "o.png", "--format", "jpeg")
    assert_one_line_failure(result, "--format jpeg", code=2)
    assert_ok(run_cli("enlarge", disc, "--format", "tiff"))
    assert (tmp_path / "disc_bilinearx2.tif").is_file()


# ------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "size"),
    [
        (["--scale", "200%"], (60, 40)),  # 30x20 -> x2
        (["--scale", "150%"], (45, 30)),
        (["--size", "45x"], (45, 30)),  # height 20 * 45 / 30 = 30
        (["--size", "x50"], (75, 50)),  # width 30 * 50 / 20 = 75
        (["--size", "90x40"], (60, 40)),  # 40/20 < 90/30: the height meets the box
        (["--size", "40x90"], (40, 27)),  # 40/30 < 90/20: width 40, height 20 * 4/3 = 26.7
        (["--size", "90x40!"], (90, 40)),
    ],
)
def test_geometry_forms(run_cli, tmp_path, args, size):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "p.png")
    result = run_cli("enlarge", "p.png", "-m", "bilinear", *args, "-o", "o.png", "--json")
    assert_ok(result)
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == size
    doc = json.loads(result.stdout)
    assert doc["output_shape"][:2] == [size[1], size[0]]
    if args[0] == "--size":
        assert doc["parameters"]["size"] == list(size)
        assert doc["parameters"]["size_requested"] == args[1]


def test_geometry_in_help(run_cli):
    text = run_cli("enlarge", "--help").stdout
    for form in ("200%", "1920x ", "x1080", "1920x1080 ", "1920x1080!"):
        assert form in text, form


# ------------------------------------------------------------------------------------------
# quiet, progress, choices
# ------------------------------------------------------------------------------------------


def test_quiet_prints_no_success_line(run_cli, small_rgb):
    result = run_cli("enlarge", small_rgb, "-o", "o.png", "-q")
    assert_ok(result)
    assert result.stderr == "" and result.stdout == ""


def test_progress_callback_counts_every_row(tmp_path, small_rgb, monkeypatch):
    import upsamp.pipeline as pipeline

    calls: list[tuple[int, int]] = []
    settings = EnlargeSettings(method="bilinear", options=MethodOptions(stride=(2, 2)))
    monkeypatch.setattr(pipeline, "BAND_VALUES", 100)  # many bands on a small image
    enlarge_file(small_rgb, tmp_path / "o.png", settings,
                 progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    assert len(calls) > 2
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1] == (16, 16)


def test_cli_choices_are_the_library_choices():
    assert cli_options.ALPHA_CHOICES == ALPHA_MODES
    assert cli_options.SUBSAMPLING_CHOICES == tuple(imageio.SUBSAMPLINGS)
    assert cli_options.TIFF_COMPRESSION_CHOICES == tuple(imageio.TIFF_COMPRESSIONS)
