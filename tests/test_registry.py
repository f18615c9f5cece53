"""The method registry: names, duplicates, lookups and third-party plugins via entry points."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp
from upsamp.errors import MethodError
from upsamp.methods import ENTRY_POINT_GROUP, Method, MethodOptions, registry

BUILTIN = ["nearest", "bilinear", "bed-of-nails", "max-unpool", "transconv"]


@pytest.fixture(autouse=True)
def restore_registry():
    """Every test leaves the registry (and the entry-point flag) as it found it."""
    saved = dict(registry._registry)
    saved_flag = registry._entry_points_loaded
    yield
    registry._registry.clear()
    registry._registry.update(saved)
    registry._entry_points_loaded = saved_flag


def _double_upsample(x: np.ndarray, options: MethodOptions) -> np.ndarray:
    """A toy plugin: pixel replication by the stride, then the values doubled."""
    sh, sw = options.stride
    return 2.0 * np.repeat(np.repeat(np.asarray(x, dtype=np.float32), sh, 0), sw, 1)


def _double_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    return shape[0] * options.stride[0], shape[1] * options.stride[1]


def make_method(name: str = "doubler") -> Method:
    return Method(name=name, summary="toy plugin", upsample=_double_upsample,
                  output_shape=_double_shape)


class FakeEntryPoint:
    """Quacks like importlib.metadata.EntryPoint for the registry's loader."""

    def __init__(self, name: str, value: str, target):
        self.name = name
        self.value = value
        self.group = ENTRY_POINT_GROUP
        self._target = target

    def load(self):
        if isinstance(self._target, BaseException):
            raise self._target
        return self._target


@pytest.fixture
def fake_entry_points(monkeypatch):
    """``fake_entry_points(*eps)``: make importlib.metadata.entry_points report ``eps`` for the
    ``upsamp.methods`` group, and make the registry read entry points again."""

    def install(*eps: FakeEntryPoint) -> list[dict]:
        calls: list[dict] = []
        real = importlib.metadata.entry_points

        def entry_points(**kwargs):
            calls.append(kwargs)
            if kwargs.get("group") == ENTRY_POINT_GROUP:
                return list(eps)
            return real(**kwargs)

        monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
        monkeypatch.setattr(registry, "_entry_points_loaded", False)
        return calls

    return install


# ------------------------------------------------------------------------------------------
# names and lookups
# ------------------------------------------------------------------------------------------


def test_builtin_methods_are_registered():
    names = upsamp.available_methods()
    for name in BUILTIN:
        assert name in names
        assert upsamp.get_method(name).name == name


def test_duplicate_name_is_refused():
    upsamp.register(make_method("dup"))
    with pytest.raises(MethodError, match="dup"):
        upsamp.register(make_method("dup"))


def test_builtin_cannot_be_replaced_by_accident():
    original = upsamp.get_method("nearest")
    with pytest.raises(MethodError, match="nearest"):
        upsamp.register(make_method("nearest"))
    assert upsamp.get_method("nearest") is original


def test_clobber_replaces():
    first = upsamp.register(make_method("dup"))
    second = make_method("dup")
    assert upsamp.register(second, clobber=True) is second
    assert upsamp.get_method("dup") is second and first is not second


def test_register_rejects_non_methods():
    with pytest.raises(MethodError):
        upsamp.register(lambda x, o: x)  # type: ignore[arg-type]


def test_unknown_name_lists_available_methods():
    with pytest.raises(MethodError) as info:
        upsamp.get_method("lanczos-5")
    message = str(info.value)
    assert "lanczos-5" in message
    for name in BUILTIN:
        assert name in message
    assert isinstance(info.value, KeyError)  # MethodError is a KeyError too


def test_registered_method_is_visible_and_usable():
    upsamp.register(make_method("doubler"))
    assert "doubler" in upsamp.available_methods()
    y = upsamp.get_method("doubler").upsample(np.ones((2, 2)), MethodOptions(stride=(2, 2)))
    np.testing.assert_array_equal(y, np.full((4, 4), 2.0))


def test_registry_mapping_is_read_only():
    with pytest.raises(TypeError):
        registry.methods["x"] = make_method("x")  # type: ignore[index]


# ------------------------------------------------------------------------------------------
# plugins through entry points
# ------------------------------------------------------------------------------------------


def test_entry_point_plugin_appears(fake_entry_points):
    calls = fake_entry_points(FakeEntryPoint("doubler", "toy.plugin:METHOD", make_method()))
    assert "doubler" in upsamp.available_methods()
    assert {"group": ENTRY_POINT_GROUP} in calls
    for name in BUILTIN:
        assert name in upsamp.available_methods()


def test_entry_point_factory_callable(fake_entry_points):
    fake_entry_points(FakeEntryPoint("doubler", "toy.plugin:make", lambda: make_method()))
    assert upsamp.get_method("doubler").summary == "toy plugin"


def test_entry_points_are_read_once(fake_entry_points):
    calls = fake_entry_points(FakeEntryPoint("doubler", "toy.plugin:METHOD", make_method()))
    upsamp.available_methods()
    upsamp.get_method("doubler")
    upsamp.available_methods()
    assert len([c for c in calls if c.get("group") == ENTRY_POINT_GROUP]) == 1


def test_entry_point_plugin_is_usable_from_the_cli(fake_entry_points, run_cli, tmp_path):
    fake_entry_points(FakeEntryPoint("doubler", "toy.plugin:METHOD", make_method()))
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4) * 10
    Image.fromarray(arr).save(tmp_path / "in.png")
    result = run_cli("enlarge", "in.png", "--method", "doubler", "--stride", "3", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["method"] == "doubler"
    out = tmp_path / "in_doublerx3.png"
    assert Path(doc["output"]).name == out.name
    with Image.open(out) as im:
        assert im.size == (12, 9)
        np.testing.assert_array_equal(
            np.array(im), np.repeat(np.repeat(arr.astype(int) * 2, 3, 0), 3, 1)
        )


def test_entry_point_plugin_listed_in_the_cli_help(fake_entry_points, run_cli):
    fake_entry_points(FakeEntryPoint("doubler", "toy.plugin:METHOD", make_method()))
    result = run_cli("enlarge", "--help")
    assert result.exit_code == 0
    assert "doubler" in result.stdout


def test_entry_point_plugin_with_npy(fake_entry_points, run_cli, tmp_path):
    fake_entry_points(FakeEntryPoint("doubler", "toy.plugin:METHOD", make_method()))
    np.save(tmp_path / "x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    result = run_cli("enlarge", "x.npy", "-m", "doubler", "-o", "y.npy", "--show")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  2 * np.repeat(np.repeat([[1, 2], [3, 4]], 2, 0), 2, 1))


@pytest.mark.parametrize(
    "target",
    [ImportError("No module named 'toy'"), "not a method", lambda: 42],
    ids=["import-error", "wrong-object", "factory-returns-junk"],
)
def test_broken_plugin_warns_and_does_not_break_the_tool(fake_entry_points, target):
    fake_entry_points(
        FakeEntryPoint("broken", "toy.broken:METHOD", target),
        FakeEntryPoint("doubler", "toy.plugin:METHOD", make_method()),
    )
    with pytest.warns(RuntimeWarning, match="broken"):
        names = upsamp.available_methods()
    assert "broken" not in names
    assert "doubler" in names  # the good plugin after the broken one still loads
    for name in BUILTIN:
        assert name in names


def test_plugin_clashing_with_a_builtin_warns_and_keeps_the_builtin(fake_entry_points):
    original = upsamp.get_method("nearest")
    fake_entry_points(FakeEntryPoint("nearest", "toy.plugin:METHOD", make_method("nearest")))
    with pytest.warns(RuntimeWarning, match="nearest"):
        upsamp.available_methods()
    assert upsamp.get_method("nearest") is original


def test_broken_plugin_does_not_break_the_cli(fake_entry_points, run_cli, tmp_path, small_l):
    fake_entry_points(FakeEntryPoint("broken", "toy.broken:METHOD", RuntimeError("boom")))
    result = run_cli("enlarge", small_l, "-m", "nearest", "-o", "o.png")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "o.png").is_file()
    # the command line prints the plugin's warning as one line
    notes = [line for line in result.stderr.splitlines() if line.startswith("upsamp: warning:")]
    assert any("broken" in line for line in notes), result.stderr


# ------------------------------------------------------------------------------------------
# a method added at run time goes everywhere through its declaration alone
# ------------------------------------------------------------------------------------------


def _box_upsample(x: np.ndarray, options: MethodOptions) -> np.ndarray:
    """Zero-order hold written as a box filter: output pixel (i, j) is the mean of the input
    pixels whose s×s cell covers it, i.e. the one at (i // s_h, j // s_w)."""
    sh, sw = options.stride
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((x.shape[0] * sh, x.shape[1] * sw) + x.shape[2:])
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = x[i // sh, j // sw]
    return out


BOX = Method(name="box", summary="box filter (zero-order hold)", upsample=_box_upsample,
             output_shape=_double_shape)


@pytest.fixture
def box_method():
    with registry.registered(BOX) as method:
        yield method
    assert "box" not in upsamp.available_methods()


def test_registered_context_manager_removes_the_method():
    with registry.registered(make_method("for-a-while")):
        assert "for-a-while" in upsamp.available_methods()
    assert "for-a-while" not in upsamp.available_methods()
    with pytest.raises(MethodError, match="for-a-while"):
        registry.unregister("for-a-while")


def test_default_declarations_of_a_plugin():
    method = make_method()
    assert method.cli_options == frozenset({"stride"})
    assert method.option_flags() == ["--stride"]
    assert method.output_channels(3, MethodOptions()) == 3
    assert not method.needs_positions and not method.takes_kernel
    assert method.output_tag(MethodOptions(stride=(2, 3))) == "x2x3"


def test_runtime_method_through_enlarge(box_method, run_cli, tmp_path):
    arr = (np.arange(20, dtype=np.uint8) * 12).reshape(4, 5)
    Image.fromarray(arr).save(tmp_path / "in.png")
    result = run_cli("enlarge", "in.png", "-m", "box", "--stride", "3", "--json")
    assert result.exit_code == 0, result.stderr
    assert Path(json.loads(result.stdout)["output"]).name == "in_boxx3.png"
    with Image.open(tmp_path / "in_boxx3.png") as im:
        np.testing.assert_array_equal(np.array(im), np.kron(arr, np.ones((3, 3), np.uint8)))


def test_runtime_method_through_batch_dry_run(box_method, run_cli, tmp_path):
    (tmp_path / "src").mkdir()
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(tmp_path / "src" / "a.png")
    result = run_cli("batch", "src", "-o", "out", "-m", "box", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    task = json.loads(result.stdout.splitlines()[0])
    assert Path(task["output"]).name == "a_boxx2.png"
    assert task["output_shape"][:2] == [8, 12]
    assert not (tmp_path / "out").exists()


def test_runtime_method_through_report(box_method, run_cli, tmp_path, sample_dir):
    image = sample_dir / "camera.png"
    result = run_cli("report", image, "--methods", "box,nearest", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {m["name"]: m for m in json.loads(result.stdout)["methods"]}
    # box is the zero-order hold, so it scores exactly as nearest does
    for key in ("psnr", "ssim", "cb_dc", "cb_rel", "verdict"):
        assert rows["box"][key] == rows["nearest"][key]
    default = run_cli("report", image, "--json")
    assert "box" in [m["name"] for m in json.loads(default.stdout)["methods"]]


def test_runtime_method_listed_in_help(box_method, run_cli):
    assert "box" in run_cli("enlarge", "--help").stdout
    assert "box" in run_cli("batch", "--help").stdout
    assert "box" in " ".join(run_cli("report", "--help").stdout.split())


@pytest.mark.parametrize("option", [["--kernel", "bicubic"], ["--align-corners"],
                                    ["--scale", "1.5"], ["--edge", "zero"]])
def test_runtime_method_refuses_options_it_does_not_take(box_method, run_cli, tmp_path, option):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "in.png")
    result = run_cli("enlarge", "in.png", "-m", "box", *option)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"upsamp: error: {option[0]} does not apply to box; box takes --stride",
        "Try 'upsamp enlarge --help'",
    ]
    assert not list(tmp_path.glob("in_box*"))
    (tmp_path / "src").mkdir()
    batch = run_cli("batch", "src", "-o", "out", "-m", "box", *option)
    assert batch.exit_code == 2 and "does not apply to box" in batch.stderr


def test_plugin_taking_scale_is_named_in_the_help(run_cli):
    with registry.registered(
        Method(name="box2", summary="toy", upsample=_double_upsample,
               output_shape=_double_shape, uses=frozenset({"stride", "scale"}))
    ):
        help_text = " ".join(run_cli("enlarge", "--help").stdout.split())
        taking = ", ".join(registry.methods_taking("scale"))
    assert taking.endswith("box2") and "nearest, bilinear" in taking
    assert f"Factor or percentage, e.g. 1.5 or 200% ({taking})." in help_text


@pytest.mark.parametrize("name", ["nearest", "bilinear", "bed-of-nails", "transconv"])
@pytest.mark.parametrize("stride", [(2, 2), (3, 2)])
def test_as_transconv_is_the_same_result(name, stride):
    from upsamp.methods.transconv import transconv

    method = upsamp.get_method(name)
    kernel = method.as_transconv(stride)
    x = np.random.default_rng(5).random((7, 6))
    expected = method.upsample(x, MethodOptions(stride=stride))
    got = transconv(x, kernel.weight, **kernel.transconv_kwargs())
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_explain_views_and_channels_of_the_builtins():
    views = {name: upsamp.get_method(name).explain_views
             for name in ("nearest", "bilinear", "bed-of-nails", "max-unpool", "transconv")}
    assert views["max-unpool"] == ("pool",)
    assert "weights" in views["bilinear"] and "weights" in views["nearest"]
    assert {"scatter", "gather", "matrix", "phases", "size"} <= set(views["bed-of-nails"])
    assert upsamp.get_method("max-unpool").as_transconv is None
    assert upsamp.get_method("max-unpool").needs_positions
