"""``upsamp explain``: how a method computes its result, step by step (and ``pool --show``).

The command parses the arrays, calls :func:`upsamp.explain.views.explain` and renders the views
with Rich on stdout (or prints them as one JSON object, or writes the HTML page or the GIF).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import click

from ..errors import ParameterError
from ..explain import ALL_VIEWS
from .options import CubicAType, PairType, ScaleType, stride_option

#: Styles of the kernel positions in colour-coded formulas, row by row of the flipped kernel.
TERM_STYLES = (
    "bold red",
    "bold green",
    "bold blue",
    "bold magenta",
    "bold cyan",
    "bold yellow",
    "red",
    "green",
    "blue",
    "magenta",
    "cyan",
    "yellow",
)

#: Matrices wider or taller than this are not printed (``--json`` has them).
MATRIX_PRINT_LIMIT = 64


@click.command()
@click.argument("method", metavar="METHOD")
@click.option(
    "-i",
    "--input",
    "input_array",
    metavar="ARRAY",
    help='The input: inline JSON "[[1,2],[3,4]]", rows "1 2; 3 4", or a .npy/.json/.csv/.txt '
    "file; up to 16×16 [default: [[1,2],[3,4]]; max-unpool: the pooled guide].",
)
@click.option(
    "-k",
    "--kernel",
    metavar="ARRAY|FILE[:KEY]|PRESET",
    help="Transconv kernel: an ARRAY, a kernel file (.npy/.json as for enlarge), a weight file "
    "tensor (FILE.safetensors:KEY, FILE.onnx:NODE, ... as for enlarge) or a preset "
    "[default: bilinear].",
)
@click.option(
    "--guide",
    metavar="ARRAY",
    help="Max-unpool: the array that was max-pooled (up to 64×64).",
)
@stride_option(None, "Enlargement factor, N or H,W [default: 2, or a kernel file's own].")
@click.option(
    "--padding",
    type=PairType(0, allow_same=True),
    help="Transconv padding (as for enlarge; 'same' makes the output stride times larger).",
)
@click.option("--output-padding", type=PairType(0), help="Transconv output_padding.")
@click.option("--dilation", type=PairType(1), help="Transconv kernel dilation.")
@click.option(
    "--edge",
    type=click.Choice(("zero", "replicate", "reflect")),
    help="Transconv border handling, as for enlarge [default: the kernel's own; zero for "
    "arrays and files].",
)
@click.option(
    "--scale",
    type=ScaleType(),
    help="A factor or percentage instead of --stride, e.g. 1.5 (methods that take --scale; "
    "the weights view).",
)
@click.option(
    "--align-corners", is_flag=True, help="Bilinear, bicubic: PyTorch align_corners=True."
)
@click.option(
    "--cubic-a",
    type=CubicAType(),
    metavar="A",
    help="Bicubic: the parameter a of Keys' cubic kernel, in [-1, 0] [default: -0.75].",
)
@click.option(
    "--view",
    "views",
    multiple=True,
    type=click.Choice(ALL_VIEWS),
    help="A view to show (repeatable) [default: every view that applies to METHOD].",
)
@click.option("--products", is_flag=True, help="The matrix view adds C·Cᵀ and Cᵀ·C.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained page stepping through the views (works offline).",
)
@click.option(
    "--gif",
    "gif_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write an animated GIF of the scatter steps.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing --html/--gif files.")
def explain(
    method: str,
    input_array: str | None,
    kernel: str | None,
    guide: str | None,
    stride: tuple[int, int] | None,
    padding: tuple[int, int] | str | None,
    output_padding: tuple[int, int] | None,
    dilation: tuple[int, int] | None,
    edge: str | None,
    scale: Any,
    align_corners: bool,
    cubic_a: float | None,
    views: tuple[str, ...],
    products: bool,
    as_json: bool,
    html_path: Path | None,
    gif_path: Path | None,
    overwrite: bool,
) -> None:
    """Show how METHOD computes its result from a small array, step by step.

    \b
    Views (--view, repeatable; default: those that apply):
      scatter  each input element's partial product x[i,j]·K, their sum, the crop
      gather   the same as a convolution of the zero-stuffed input with the flipped kernel
      matrix   the matrix C with y = Cᵀ·x (--products: C·Cᵀ and Cᵀ·C)
      phases   the taps each output phase receives and the checkerboard verdict
      size     the output-size formula and the same settings in PyTorch, Keras, ONNX, MXNet
      weights  nearest, bilinear, bicubic, lanczos: source coordinates and weights of every
               row and column
      pool     max-unpool: windows, maxima, mask, indices (--guide: the pooled array)

    \b
    Examples:
      upsamp explain transconv --input "[[1,2],[3,4]]" --kernel "[[5,5],[5,5]]" --stride 1
      upsamp explain transconv --input "1 1; 1 1" --kernel checkerboard --stride 2 --view phases
      upsamp explain bilinear --input "[[10,20],[30,40]]" --stride 2
      upsamp explain bicubic --input "1 2 3; 4 5 6" --scale 1.5
      upsamp explain max-unpool --input "1 2; 3 4" --guide "1 2 4 1; 3 4 2 3; 1 4 1 2; 2 3 4 3"
    """
    from ..errors import ExitCode, UpsampError
    from ..imageio import check_target
    from . import fail, render

    for target in (html_path, gif_path):
        if target is not None:
            check_target(target, overwrite, folder_made_later=True)
    try:
        settings = (
            method, input_array, kernel, guide, stride, padding, output_padding, dilation,
            edge, scale, align_corners, cubic_a,
        )  # fmt: skip
        doc = _explanation(*settings, views, products)
        page_doc = None
        if html_path is not None or gif_path is not None:
            # The page shows every view that applies: the same document unless --view chose.
            page_doc = doc if not views else _explanation(*settings, (), products)
            if gif_path is not None and "scatter" not in page_doc:
                raise _usage(f"--gif animates the scatter view, which {method} does not have")
    except UpsampError as exc:
        if click.get_current_context().meta.get("upsamp.debug"):
            raise
        fail(str(exc), ExitCode.USAGE)
    if html_path is not None:
        _write_html(page_doc, html_path, overwrite)
    if gif_path is not None:
        _write_gif(page_doc, gif_path, overwrite)
    if as_json:
        render.print_json(doc)
    else:
        render_explanation(doc, render.wide_console())
    for target in (html_path, gif_path):
        if target is not None:
            render.info(f"wrote {target}")


def _usage(message: str) -> Exception:
    return ParameterError(message)


def _explanation(
    method_name: str,
    input_array: str | None,
    kernel_spec: str | None,
    guide_array: str | None,
    stride: tuple[int, int] | None,
    padding: tuple[int, int] | str | None,
    output_padding: tuple[int, int] | None,
    dilation: tuple[int, int] | None,
    edge: str | None,
    scale: Any,
    align_corners: bool,
    cubic_a: float | None,
    views: tuple[str, ...],
    products: bool,
) -> dict:
    """Parse the arrays, build the kernel and call the views."""
    from ..explain.arrays import parse_array
    from ..explain.views import explain as build
    from ..methods import get_method

    method = get_method(method_name)
    takes_kernel = "kernel" in method.uses
    for flag, value in (
        ("--kernel", kernel_spec),
        ("--padding", padding),
        ("--output-padding", output_padding),
        ("--dilation", dilation),
        ("--edge", edge),
    ):
        if value is not None and not takes_kernel:
            raise _usage(f"{flag} applies to methods with a kernel (transconv), not {method.name}")
        if value is not None and flag[2:].replace("-", "_") not in (method.cli_options or ()):
            raise _usage(
                f"{flag} does not apply to {method.name}; it takes "
                f"{', '.join(method.option_flags())}"
            )
    if guide_array is not None and "indices" not in method.uses:
        raise _usage(f"--guide applies to max-unpool, not {method.name}")
    for flag, given in (
        ("--scale", scale is not None),
        ("--align-corners", align_corners),
        ("--cubic-a", cubic_a is not None),
    ):
        if given and flag[2:].replace("-", "_") not in (method.cli_options or ()):
            raise _usage(
                f"{flag} does not apply to {method.name}; it takes "
                f"{', '.join(method.option_flags())}"
            )
    if scale is not None and stride is not None:
        raise _usage("give --stride or --scale, not both")
    x = None if input_array is None else parse_array(input_array, name="--input")
    guide = None if guide_array is None else parse_array(guide_array, name="--guide", limit=64)
    kernel = None
    if takes_kernel:
        kernel = _kernel(method, kernel_spec, stride, padding, output_padding, dilation, edge)
    return build(
        method.name,
        x,
        kernel=kernel,
        guide=guide,
        stride=None if takes_kernel else stride,
        scale=scale,
        align_corners=align_corners,
        cubic_a=cubic_a,
        views=views,
        products=products,
    )


def _kernel(
    method: Any,
    spec: str | None,
    stride: tuple[int, int] | None,
    padding: tuple[int, int] | str | None,
    output_padding: tuple[int, int] | None,
    dilation: tuple[int, int] | None,
    edge: str | None,
) -> Any:
    """The kernel of ``--kernel`` with the geometry options applied as ``enlarge`` applies
    them (a preset keeps its own edge mode unless ``--edge`` says otherwise)."""
    from ..explain.arrays import ARRAY_LIMIT, looks_like_file, parse_array
    from ..geometry import check_transconv_params, format_size
    from ..kernels import PRESETS, Kernel, same_size_geometry
    from ..weights import is_weight_source

    text = None if spec is None else spec.strip()
    as_kernel_file = text is not None and (
        is_weight_source(text)
        or (looks_like_file(text) and Path(text).suffix.lower() in (".npy", ".json"))
    )
    if text is None or text in PRESETS or as_kernel_file or method.make_kernel is not None:
        kernel = method.build_kernel(
            text,
            stride,
            padding=padding,
            output_padding=output_padding,
            dilation=dilation,
            edge=edge,
        )
        if max(kernel.spatial_shape) > ARRAY_LIMIT:
            raise _usage(
                f"--kernel is {format_size(kernel.spatial_shape)}; explain shows "
                f"kernels up to {ARRAY_LIMIT}×{ARRAY_LIMIT}"
            )
    else:
        weight = parse_array(text, name="--kernel")
        kernel = Kernel(weight=weight, name="kernel", source="--kernel").with_overrides(
            stride=stride or (2, 2),
            padding=None if padding == "same" else padding,
            output_padding=output_padding,
            dilation=dilation,
            edge=edge,
        )
        if padding == "same":
            geometry = [
                same_size_geometry(
                    kernel.dilation[a] * (weight.shape[a] - 1) + 1,
                    kernel.stride[a],
                    kernel.dilation[a],
                )
                for a in range(2)
            ]
            kernel = kernel.with_overrides(
                padding=(geometry[0][0], geometry[1][0]),
                output_padding=(geometry[0][1], geometry[1][1]),
            )
        check_transconv_params(
            kernel.stride, kernel.padding, kernel.output_padding, kernel.dilation
        )
    return kernel


def _write_html(doc: dict, path: Path, overwrite: bool) -> None:
    from .. import imageio
    from ..explain.html import page

    crop = ""
    if "scatter" in doc:
        crop = crop_text(doc["scatter"]["crop"], doc["output_padding"])
    text = page(doc, crop_text=crop)
    imageio.atomic_write(
        path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite
    )


def _write_gif(doc: dict, path: Path, overwrite: bool) -> None:
    from .. import imageio
    from ..explain.animation import save_gif

    imageio.atomic_write(path, lambda tmp: save_gif(doc, tmp), overwrite=overwrite)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    from .render import format_number

    return format_number(float(value))


def _size(shape: Any) -> str:
    """The size of a nested-list array, width first (:func:`upsamp.geometry.format_size`)."""
    from ..geometry import format_size  # numpy is loaded by now

    return format_size((len(shape), len(shape[0]) if len(shape) else 0))


def grid_table(
    values: list[list[float]],
    title: str,
    *,
    dots: bool = False,
    styles: dict[tuple[int, int], str] | None = None,
    row_labels: list[str] | None = None,
    col_labels: list[str] | None = None,
) -> Any:
    """A Rich table of a small 2-D array: ``dots`` shows zeros as ``·`` (nothing lands there),
    ``styles`` colours cells by position."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=col_labels is not None)
    if row_labels is not None:
        table.add_column("", justify="right", style="dim")
    for label in col_labels or [""] * (len(values[0]) if values else 0):
        table.add_column(label, justify="right")
    for r, row in enumerate(values):
        cells = []
        for c, value in enumerate(row):
            text = "·" if dots and value == 0 else _number(value)
            cells.append(Text(text, style=(styles or {}).get((r, c), "")))
        if row_labels is not None:
            cells.insert(0, Text(row_labels[r]))
        table.add_row(*cells)
    return Group(Text(title), table)


def _side_by_side(*items: Any) -> Any:
    from rich.table import Table

    grid = Table.grid(padding=(0, 3))
    for _ in items:
        grid.add_column(vertical="top")
    grid.add_row(*items)
    return grid


def _heading(console: Any, text: str) -> None:
    from rich.text import Text

    console.print()
    console.print(Text(text, style="bold"))


def render_explanation(doc: dict, console: Any) -> None:
    """Print every view of ``doc`` (from :func:`upsamp.explain.views.explain`)."""
    from rich.text import Text

    x = doc["input"]
    head = f"{doc['method']}: input {_size(x)}"
    inputs = [grid_table(x, f"input x {_size(x)}")]
    if "kernel" in doc:
        k = doc["kernel"]
        head += (
            f", kernel {_size(k)}, stride {_pair_text(doc['stride'])}, padding "
            f"{_pair_text(doc['padding'])}, output_padding {_pair_text(doc['output_padding'])}, "
            f"dilation {_pair_text(doc['dilation'])}"
        )
        inputs.append(grid_table(k, f"kernel K {_size(k)}"))
    else:
        if "scale" in doc:
            scale = doc["scale"]
            head += ", scale " + (
                ",".join(_number(v) for v in scale) if isinstance(scale, list) else _number(scale)
            )
        else:
            head += f", stride {_pair_text(doc['stride'])}"
        if doc.get("align_corners"):
            head += ", align_corners"
        if "cubic_a" in doc:
            head += f", a = {_number(doc['cubic_a'])}"
    if "guide" in doc:
        inputs.append(grid_table(doc["guide"], f"guide {_size(doc['guide'])}"))
    head += f" → output {_size(doc['output'])}"
    console.print(Text(head, style="bold"))
    if "edge" in doc:
        edge = doc["edge"]
        inputs.append(grid_table(edge["input"], f"extended input {_size(edge['input'])}"))
    console.print(_side_by_side(*inputs))
    if "edge" in doc:
        edge = doc["edge"]
        added = "copies of the edge" if edge["mode"] == "replicate" else "mirrored values"
        console.print(
            f"edge {edge['mode']}: {_count(edge['margin'][0], 'row')} and "
            f"{_count(edge['margin'][1], 'column')} of {added} added on each side of the input; "
            f"the padding grows by as many strides to {_pair_text(edge['padding'])}, so the "
            "output is the same and the views below work on the extended input",
            markup=False,
        )
    renderers = {
        "scatter": _render_scatter,
        "gather": _render_gather,
        "matrix": _render_matrix,
        "phases": _render_phases,
        "size": _render_size,
        "weights": _render_weights,
        "pool": _render_pool,
    }
    for view in ALL_VIEWS:
        if view in doc:
            renderers[view](doc, console)
    _heading(console, f"output of {doc['method']} (computed by the library)")
    console.print(grid_table(doc["output"], f"y {_size(doc['output'])}"))


def view_input(doc: dict) -> list[list[float]]:
    """The input the transposed-convolution views work on (extended by an edge mode)."""
    return doc["edge"]["input"] if "edge" in doc else doc["input"]


def _pair_text(pair: list[int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def crop_text(crop: list[int], output_padding: list[int]) -> str:
    """What padding and output_padding do to the full sum, in words (``crop`` as the scatter
    view gives it: ``[top, left, bottom, right]``)."""
    parts = []
    for axis, (first, last, unit) in enumerate(
        (("top", "bottom", "row"), ("left", "right", "column"))
    ):
        p, op = crop[axis], output_padding[axis]
        if p == 0 and op == 0:
            continue
        if p:
            text = f"padding {p} cuts {_count(p, unit)} at the {first} and at the {last}"
        else:
            text = f"padding 0 cuts no {unit}s"
        kept = min(op, p)
        if kept:
            text += f"; output_padding {op} keeps {_count(kept, unit)} of them at the {last}"
        if op > p:
            text += f"; output_padding {op} adds {_count(op - p, unit)} of zeros past the {last}"
        parts.append(text)
    return "; ".join(parts) if parts else "padding 0 cuts nothing: the output is the full sum"


def _render_scatter(doc: dict, console: Any) -> None:
    view = doc["scatter"]
    full = view["full"]
    s = doc["stride"]
    _heading(
        console,
        f"scatter: each input element x[i,j] distributes x[i,j]·K into the full {_size(full)} "
        f"output at (i·{s[0]}, j·{s[1]})",
    )
    width = len(view_input(doc)[0])
    partials = view["partials"]
    for start in range(0, len(partials), width):
        tables = [
            grid_table(
                step["partial"],
                f"x[{step['at'][0]},{step['at'][1]}] = {_number(step['value'])} at "
                f"({step['offset'][0]}, {step['offset'][1]})",
                dots=True,
            )
            for step in partials[start : start + width]
        ]
        console.print(_side_by_side(*tables))
    console.print(grid_table(full, f"sum of the partial products (full) {_size(full)}"))
    console.print(f"crop: {crop_text(view['crop'], doc['output_padding'])}", markup=False)


def _kernel_styles(rows: int, cols: int) -> dict[tuple[int, int], str]:
    return {
        (a, b): TERM_STYLES[(a * cols + b) % len(TERM_STYLES)]
        for a in range(rows)
        for b in range(cols)
    }


def _render_gather(doc: dict, console: Any) -> None:
    from rich.text import Text

    view = doc["gather"]
    s = doc["stride"]
    pad = view["pad"]
    flipped = view["flipped_kernel"]
    kh, kw = len(flipped), len(flipped[0])
    _heading(
        console,
        "gather: the same result as an ordinary convolution (stride 1) of the expanded input "
        "with the flipped kernel",
    )
    console.print(
        f"expanded input: {_pair_text([s[0] - 1, s[1] - 1])} zeros between the elements "
        "(s − 1), then "
        f"d·(k − 1) − p zeros around: {pad[0]} above, {pad[2]} below, {pad[1]} left, "
        f"{pad[3]} right (negative: cut)",
        markup=False,
    )
    styles = _kernel_styles(kh, kw)
    console.print(
        _side_by_side(
            grid_table(view["expanded_input"], f"expanded input {_size(view['expanded_input'])}"),
            grid_table(flipped, f"flipped kernel {kh}×{kw}", styles=styles),
        )
    )
    console.print(Text("one formula per output cell, each term coloured by its kernel weight:"))
    for formula in view["formulas"]:
        lhs, rest = formula.split(" = ", 1)
        terms, result = rest.rsplit(" = ", 1)
        line = Text(f"{lhs} = ")
        for index, term in enumerate(terms.split(" + ")):
            if index:
                line.append(" + ")
            line.append(term, style=styles[divmod(index, kw)])
        line.append(f" = {result}", style="bold")
        console.print(line)


def _labels(prefix: str, rows: int, cols: int) -> list[str]:
    return [f"{prefix}[{r},{c}]" for r in range(rows) for c in range(cols)]


def _render_matrix(doc: dict, console: Any) -> None:
    view = doc["matrix"]
    x, y = view_input(doc), doc["output"]
    in_labels = _labels("x", len(x), len(x[0]))
    out_labels = _labels("y", len(y), len(y[0]))
    c = view["C"]
    _heading(
        console,
        f"matrix: C is {len(c)}×{len(c[0])}, one row per input element and one column per "
        "output element (row-major); y = Cᵀ·x",
    )
    if len(c[0]) > MATRIX_PRINT_LIMIT or len(c) > MATRIX_PRINT_LIMIT:
        console.print(
            f"(C is too large to print here: {len(c)}×{len(c[0])}; --json has it)", markup=False
        )
        return
    console.print(
        grid_table(c, f"C {len(c)}×{len(c[0])}", row_labels=in_labels, col_labels=out_labels)
    )
    flat_x = [v for row in x for v in row]
    flat_y = [v for row in y for v in row]
    c_t = [list(row) + [flat_y[i]] for i, row in enumerate(view["C_T"])]
    console.print(
        grid_table(
            c_t,
            f"y = Cᵀ·x with x = ({', '.join(_number(v) for v in flat_x)})",
            row_labels=out_labels,
            col_labels=in_labels + ["= y"],
        )
    )
    if "CC_T" in view:
        console.print(
            grid_table(
                view["CC_T"], f"C·Cᵀ {len(c)}×{len(c)}", row_labels=in_labels, col_labels=in_labels
            )
        )
        console.print(
            grid_table(
                view["C_TC"],
                f"Cᵀ·C {len(c[0])}×{len(c[0])}",
                row_labels=out_labels,
                col_labels=out_labels,
            )
        )


def _render_phases(doc: dict, console: Any) -> None:
    from rich.text import Text

    items = doc["phases"]
    s = doc["stride"]
    _heading(
        console,
        f"phases: output cell (r, c) has phase (r mod {s[0]}, c mod {s[1]}); each phase "
        "receives the taps K[a, b] with (a·d − p) mod s equal to it",
    )
    tables = []
    for item in items:
        p, q = item["phase"]
        title = f"phase ({p},{q}): sum {_number(item['sum'])}"
        if item["kernel"] and item["kernel"][0]:
            tables.append(
                grid_table(
                    item["kernel"],
                    title,
                    row_labels=[f"K[{a},·]" for a in item["rows"]],
                    col_labels=[f"·,{b}" for b in item["cols"]],
                )
            )
        else:
            tables.append(Text(f"{title} (no taps)"))
    for start in range(0, len(tables), s[1]):
        console.print(_side_by_side(*tables[start : start + s[1]]))
    verdict = doc.get("phase_verdict")
    if verdict:
        word = "artifact-free" if verdict["artifact_free"] else "checkerboard"
        line = Text("verdict: ")
        line.append(word, style="green" if verdict["artifact_free"] else "red")
        line.append(f" — {verdict['explanation']}")
        console.print(line)
        if verdict["fix"]:
            console.print(Text(f"fix: {verdict['fix']}"))


def _render_size(doc: dict, console: Any) -> None:
    view = doc["size"]
    _heading(console, "size: the output-size formula, and the convolution that goes back down")
    for line in view["formula"].split("; "):
        console.print(f"  {line}", markup=False)
    for line in view["conv_formula"].split("; "):
        console.print(f"  {line}", markup=False)
    console.print("the same transposed convolution elsewhere:", markup=False)
    names = {"pytorch": "PyTorch", "keras": "Keras", "onnx": "ONNX", "mxnet": "MXNet"}
    for key, text in view["frameworks"].items():
        console.print(f"  {names.get(key, key)}: {text}", markup=False)


def weight_text(weight: float) -> str:
    """A weight as a small fraction when it is one (``3/4``), else a decimal."""
    fraction = Fraction(weight).limit_denominator(1024)
    if abs(float(fraction) - weight) < 1e-12 and fraction.denominator > 1:
        return f"{fraction.numerator}/{fraction.denominator}"
    return _number(weight)


def _tap_sum(terms: list[tuple[str, str]]) -> str:
    """``a·x[..] + b·x[..] − c·x[..]``: the weighted taps with their signs between them."""
    text = ""
    for n, (weight, sample) in enumerate(terms):
        negative = weight.startswith("-")
        magnitude = weight[1:] if negative else weight
        if n == 0:
            text = f"{'−' if negative else ''}{magnitude}·{sample}"
        else:
            text += f" {'−' if negative else '+'} {magnitude}·{sample}"
    return text


#: What the weights view says about a source coordinate past an end of the input.
EDGE_NOTES = {
    "clamp": " (clamped to {end})",
    "replicate": " (past the edge: taps there read the edge sample {end})",
    "renormalise": " (past the edge: taps outside dropped, weights renormalised)",
}


def _render_weights(doc: dict, console: Any) -> None:
    view = doc["weights"]
    _heading(
        console,
        f"weights: output index o reads the input around its source coordinate {view['formula']}",
    )
    sizes = {"rows": len(doc["input"]), "cols": len(doc["input"][0])}
    for axis, name in (("rows", "row"), ("cols", "column")):
        console.print(f"{name}s:", markup=False)
        for item in view[axis]:
            u = item["source"]
            where = "x[{},:]" if axis == "rows" else "x[:,{}]"
            taps = _tap_sum(
                [(weight_text(w), where.format(i)) for i, w in item["taps"]]
            )
            clamped = ""
            if u < 0 or u > sizes[axis] - 1:
                end = 0 if u < 0 else sizes[axis] - 1
                clamped = EDGE_NOTES.get(view.get("edge", "clamp"), "").format(end=end)
            console.print(
                f"  {name} {item['out']}: u = {_number(u)}{clamped} → {taps}", markup=False
            )
    console.print(
        "y[r, c] = Σ row weight · column weight · x[row index, column index]", markup=False
    )


def _render_pool(doc: dict, console: Any) -> None:
    view = doc["pool"]
    s = doc["stride"]
    where = {tuple(w["where"]): "bold" for w in view["windows"]}
    _heading(
        console,
        f"pool: max pooling of the guide by {s[0]}×{s[1]} windows keeps each window's first "
        "maximum and where it was; max-unpooling puts the input there",
    )
    tables = [
        grid_table(view["guide"], "guide (maxima in bold)", styles=where),
        grid_table(view["pooled"], "pooled (maxima)"),
        grid_table(view["mask"], "mask"),
        grid_table(view["indices"], "indices (h·W + w)"),
    ]
    if "unpooled" in view:
        tables.append(grid_table(view["unpooled"], "unpooled", dots=True))
    console.print(_side_by_side(*tables))


def render_pool_view(pooled: Any, indices: Any, input_shape: tuple[int, int]) -> None:
    """``upsamp pool --show``: the pooled array, the mask of where the maxima were and the
    indices, as tables on stdout (arrays up to 16×16; larger ones are named, not printed).

    ``indices`` is ``(H', W')`` or ``(H', W', C)``; planes beyond the pooled array's channels
    (an alpha plane) are left out.
    """
    from ..explain.views import pool_mask
    from . import render

    if indices.ndim == 3:
        indices = indices[:, :, : pooled.shape[2] if pooled.ndim == 3 else 1]
        if pooled.ndim == 2:
            indices = indices[:, :, 0]
    mask = pool_mask(indices, input_shape)
    render.show_arrays({"pooled": pooled, "mask": mask, "indices": indices})
