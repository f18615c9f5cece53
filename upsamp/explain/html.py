"""The self-contained page of ``upsamp explain --html``.

One HTML file with its style and script inline and nothing loaded from anywhere (a
Content-Security-Policy forbids every fetch), so it works offline. A stepper walks through the
scatter steps (one per input element, then the sum and the crop) and the gather steps (one per
output cell, with its formula): Previous/Next buttons, the arrow keys, or ``#step=N`` in the
address. The matrix, phase, size, weights and pool views are shown as static tables.

Every value from the explanation is HTML-escaped (static parts) or set as text by the script
(never parsed as markup); the data travels in a JSON block with ``<``, ``>`` and ``&``
escaped, so no value can end the block.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["page", "KERNEL_COLOURS"]

#: Background colours of the kernel positions (row by row), shared by the kernel, the window
#: on the expanded input and the formula terms.
KERNEL_COLOURS = (
    "#f8c4c4",
    "#c4e8c4",
    "#c4d4f8",
    "#ecc8ec",
    "#c4ecec",
    "#f4ecb0",
    "#f8dcc0",
    "#dcd0f4",
    "#d0ecd8",
    "#f0d0dc",
    "#d8e4c0",
    "#c8dcec",
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
h3 { font-size: 0.95em; margin: 0.3em 0; font-weight: 600; }
table.grid { border-collapse: collapse; margin: 0.2em 0 0.8em 0; }
table.grid td, table.grid th { border: 1px solid #bbb; padding: 0.15em 0.5em; text-align: right;
  font-family: ui-monospace, monospace; min-width: 1.6em; height: 1.4em; }
table.grid th { background: #f2f2f2; font-weight: normal; color: #555; }
td.mark { outline: 3px solid #d33; outline-offset: -3px; font-weight: bold; }
td.blank { color: #bbb; }
td.cut { background: #eee; color: #999; }
.row { display: flex; flex-wrap: wrap; gap: 2.5em; align-items: flex-start; }
.controls { margin: 0.6em 0; }
.controls button { font-size: 1em; padding: 0.3em 1.1em; margin-right: 0.6em; }
#step-text, .formula { font-family: ui-monospace, monospace; }
.term { padding: 0 0.15em; border-radius: 3px; }
#stepper { border: 1px solid #ccc; border-radius: 6px; padding: 0.8em 1.2em; }
.note { color: #555; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explain-data").textContent);
  var colours = data.colours;
  var steps = [];
  if (data.scatter) {
    steps.push({kind: "scatter-start"});
    data.scatter.partials.forEach(function (p, k) { steps.push({kind: "scatter", k: k}); });
    steps.push({kind: "sum"});
    steps.push({kind: "crop"});
  }
  if (data.gather) {
    steps.push({kind: "gather-start"});
    data.gather.formulas.forEach(function (f, t) { steps.push({kind: "gather", t: t}); });
  }
  var current = 0;

  function fmt(v) {
    if (v === null || v === undefined) { return ""; }
    if (Number.isInteger(v)) { return String(v); }
    return String(Number(v.toPrecision(4)));
  }
  function zeros(h, w) {
    var g = [];
    for (var r = 0; r < h; r++) { g.push(new Array(w).fill(0)); }
    return g;
  }
  function blanks(h, w) {
    var g = [];
    for (var r = 0; r < h; r++) { g.push(new Array(w).fill(null)); }
    return g;
  }
  function fill(id, title, grid, opts) {
    opts = opts || {};
    document.getElementById(id + "-title").textContent = title;
    var table = document.getElementById(id);
    while (table.firstChild) { table.removeChild(table.firstChild); }
    if (!grid) { table.hidden = true; return; }
    table.hidden = false;
    grid.forEach(function (row, r) {
      var tr = document.createElement("tr");
      row.forEach(function (v, c) {
        var td = document.createElement("td");
        var key = r + "," + c;
        td.dataset.r = r; td.dataset.c = c;
        if (opts.dots && v === 0) { td.textContent = "\u00b7"; td.className = "blank"; }
        else { td.textContent = fmt(v); }
        if (opts.marks && opts.marks[key] !== undefined) {
          td.classList.add("mark");
          if (opts.marks[key] !== true) { td.style.background = opts.marks[key]; }
        }
        if (opts.cut && opts.cut(r, c)) { td.classList.add("cut"); }
        if (opts.colour) { td.style.background = opts.colour(r, c); }
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
  }
  function setText(title, text) {
    document.getElementById("step-title").textContent = title;
    var box = document.getElementById("step-text");
    while (box.firstChild) { box.removeChild(box.firstChild); }
    if (typeof text === "string") { box.textContent = text; return; }
    text.forEach(function (part) {
      var span = document.createElement("span");
      span.textContent = part.text;
      if (part.colour) { span.className = "term"; span.style.background = part.colour; }
      box.appendChild(span);
    });
  }
  function kernelColour(kw) {
    return function (r, c) { return colours[(r * kw + c) % colours.length]; };
  }
  function runningSum(k) {
    var full = data.scatter.full;
    var sum = zeros(full.length, full[0].length);
    for (var n = 0; n <= k; n++) {
      data.scatter.partials[n].partial.forEach(function (row, r) {
        row.forEach(function (v, c) { sum[r][c] += v; });
      });
    }
    return sum;
  }
  function show(index) {
    current = Math.max(0, Math.min(steps.length - 1, index));
    var step = steps[current];
    document.getElementById("counter").textContent =
      "step " + (current + 1) + " of " + steps.length;
    document.getElementById("prev").disabled = current === 0;
    document.getElementById("next").disabled = current === steps.length - 1;
    document.body.dataset.step = current;
    document.body.dataset.kind = step.kind;
    var out = data.output;
    if (step.kind === "scatter-start") {
      var full = data.scatter.full;
      setText("scatter: distributing values",
        "Each input element x[i,j] sends x[i,j]\u00b7K to the full output at " +
        "(i\u00b7s, j\u00b7s). Press Next (or \u2192) to place them one by one.");
      fill("left", "input x", data.input);
      fill("mid", "kernel K", data.kernel);
      fill("result", "full output (uncropped), so far", blanks(full.length, full[0].length));
    } else if (step.kind === "scatter") {
      var p = data.scatter.partials[step.k];
      var marks = {}; marks[p.at[0] + "," + p.at[1]] = true;
      var touched = {};
      p.partial.forEach(function (row, r) {
        row.forEach(function (v, c) { if (v !== 0) { touched[r + "," + c] = true; } });
      });
      setText("scatter: x[" + p.at[0] + "," + p.at[1] + "] = " + fmt(p.value),
        "x[" + p.at[0] + "," + p.at[1] + "]\u00b7K placed at (" + p.offset[0] + ", " +
        p.offset[1] + ") and added to the sum");
      fill("left", "input x", data.input, {marks: marks});
      fill("mid", "partial product x[" + p.at[0] + "," + p.at[1] + "]\u00b7K", p.partial,
        {dots: true});
      fill("result", "full output (uncropped), so far", runningSum(step.k), {marks: touched});
    } else if (step.kind === "sum") {
      setText("scatter: the sum", "The sum of every partial product: the full, uncropped output.");
      fill("left", "input x", data.input);
      fill("mid", "kernel K", data.kernel);
      fill("result", "full output (uncropped)", runningSum(data.scatter.partials.length - 1));
    } else if (step.kind === "crop") {
      var crop = data.scatter.crop;
      var sumGrid = data.scatter.full;
      setText("scatter: the crop", data.crop_text);
      fill("left", "full output: greyed cells are cut", sumGrid, {cut: function (r, c) {
        return r < crop[0] || c < crop[1] || r >= sumGrid.length - Math.max(crop[2], 0) ||
          c >= sumGrid[0].length - Math.max(crop[3], 0);
      }});
      fill("mid", "", null);
      fill("result", "output y", out);
    } else if (step.kind === "gather-start") {
      var g = data.gather;
      setText("gather: collecting values",
        "The same output as an ordinary convolution: the expanded input (zeros between and " +
        "around the elements) and the flipped kernel. Press Next for one output cell at a time.");
      fill("left", "expanded input", g.expanded_input);
      fill("mid", "flipped kernel", g.flipped_kernel,
        {colour: kernelColour(g.flipped_kernel[0].length)});
      fill("result", "output y, so far", blanks(out.length, out[0].length));
    } else if (step.kind === "gather") {
      var gv = data.gather;
      var kh = gv.flipped_kernel.length, kw = gv.flipped_kernel[0].length;
      var r0 = Math.floor(step.t / out[0].length), c0 = step.t % out[0].length;
      var d = data.dilation;
      var win = {};
      for (var a = 0; a < kh; a++) {
        for (var b = 0; b < kw; b++) {
          win[(r0 + a * d[0]) + "," + (c0 + b * d[1])] = colours[(a * kw + b) % colours.length];
        }
      }
      var formula = gv.formulas[step.t];
      var head = formula.split(" = ")[0];
      var rest = formula.slice(head.length + 3);
      var cut = rest.lastIndexOf(" = ");
      var terms = rest.slice(0, cut).split(" + ");
      var parts = [{text: head + " = "}];
      terms.forEach(function (term, n) {
        if (n) { parts.push({text: " + "}); }
        parts.push({text: term, colour: colours[n % colours.length]});
      });
      parts.push({text: rest.slice(cut)});
      setText("gather: y[" + r0 + "," + c0 + "]", parts);
      fill("left", "expanded input: the window of y[" + r0 + "," + c0 + "]", gv.expanded_input,
        {marks: win});
      fill("mid", "flipped kernel", gv.flipped_kernel, {colour: kernelColour(kw)});
      var sofar = blanks(out.length, out[0].length);
      for (var t = 0; t <= step.t; t++) {
        var rr = Math.floor(t / out[0].length), cc = t % out[0].length;
        sofar[rr][cc] = out[rr][cc];
      }
      var here = {}; here[r0 + "," + c0] = true;
      fill("result", "output y, so far", sofar, {marks: here});
    }
    if (window.history && history.replaceState) {
      history.replaceState(null, "", "#step=" + current);
    }
  }
  function fromHash() {
    var m = /step=(\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) : 0;
  }
  if (!steps.length) { return; }
  document.getElementById("stepper").hidden = false;
  document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
  document.getElementById("next").addEventListener("click", function () { show(current + 1); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "ArrowRight" || event.key === "ArrowDown") {
      show(current + 1); event.preventDefault();
    } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      show(current - 1); event.preventDefault();
    } else if (event.key === "Home") { show(0); }
    else if (event.key === "End") { show(steps.length - 1); }
  });
  window.addEventListener("hashchange", function () {
    if (fromHash() !== current) { show(fromHash()); }
  });
  show(fromHash());
}());
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float) -> str:
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.4g}"


def _grid(
    values: list[list[float]],
    *,
    row_labels: list[str] | None = None,
    col_labels: list[str] | None = None,
    colours: dict[tuple[int, int], str] | None = None,
    table_id: str | None = None,
) -> str:
    """A static table of a 2-D array (every value escaped)."""
    parts = [f'<table class="grid"{f" id={_e(table_id)!r}" if table_id else ""}>']
    if col_labels is not None:
        parts.append("<tr>" + ("<th></th>" if row_labels is not None else ""))
        parts.extend(f"<th>{_e(label)}</th>" for label in col_labels)
        parts.append("</tr>")
    for r, row in enumerate(values):
        parts.append("<tr>")
        if row_labels is not None:
            parts.append(f"<th>{_e(row_labels[r])}</th>")
        for c, value in enumerate(row):
            style = ""
            if colours and (r, c) in colours:
                style = f' style="background:{_e(colours[(r, c)])}"'
            parts.append(f"<td{style}>{_e(_number(value))}</td>")
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)


def _pair(pair: list[int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


def _figure(title: str, body: str) -> str:
    return f"<div><h3>{_e(title)}</h3>{body}</div>"


def _size_text(grid: list[list[Any]]) -> str:
    return f"{len(grid)}×{len(grid[0]) if grid else 0}"


def _labels(prefix: str, grid: list[list[Any]]) -> list[str]:
    return [f"{prefix}[{r},{c}]" for r in range(len(grid)) for c in range(len(grid[0]))]


def _matrix_section(doc: dict) -> str:
    view = doc["matrix"]
    c = view["C"]
    parts = [
        "<h2>matrix: y = Cᵀ·x</h2>",
        f'<p class="note">C is {len(c)}×{len(c[0])}: one row per input element, one column per '
        "output element (both flattened row by row).</p>",
    ]
    if max(len(c), len(c[0])) > 64:
        parts.append('<p class="note">C is too large to show here; --json has it.</p>')
        return "".join(parts)
    source = doc["edge"]["input"] if "edge" in doc else doc["input"]
    in_labels, out_labels = _labels("x", source), _labels("y", doc["output"])
    flat_y = [v for row in doc["output"] for v in row]
    parts.append('<div class="row">')
    parts.append(
        _figure("C", _grid(c, row_labels=in_labels, col_labels=out_labels, table_id="matrix-c"))
    )
    c_t = [list(row) + [flat_y[i]] for i, row in enumerate(view["C_T"])]
    parts.append(
        _figure(
            "y = Cᵀ·x (last column: y)",
            _grid(c_t, row_labels=out_labels, col_labels=in_labels + ["= y"]),
        )
    )
    if "CC_T" in view:
        parts.append(_figure("C·Cᵀ", _grid(view["CC_T"])))
        parts.append(_figure("Cᵀ·C", _grid(view["C_TC"])))
    parts.append("</div>")
    return "".join(parts)


def _phases_section(doc: dict) -> str:
    parts = ["<h2>phases</h2>"]
    s = doc["stride"]
    parts.append(
        f'<p class="note">Output cell (r, c) has phase (r mod {s[0]}, c mod {s[1]}); these are '
        "the kernel taps each phase receives.</p>"
    )
    parts.append('<div class="row">')
    for item in doc["phases"]:
        title = f"phase ({item['phase'][0]},{item['phase'][1]}): sum {_number(item['sum'])}"
        if item["kernel"] and item["kernel"][0]:
            body = _grid(
                item["kernel"],
                row_labels=[f"K[{a},·]" for a in item["rows"]],
                col_labels=[f"·,{b}" for b in item["cols"]],
            )
        else:
            body = '<p class="note">no taps</p>'
        parts.append(_figure(title, body))
    parts.append("</div>")
    verdict = doc.get("phase_verdict")
    if verdict:
        word = "artifact-free" if verdict["artifact_free"] else "checkerboard"
        parts.append(f"<p><b>{word}</b>: {_e(verdict['explanation'])}</p>")
        if verdict["fix"]:
            parts.append(f"<p>fix: {_e(verdict['fix'])}</p>")
    return "".join(parts)


def _size_section(doc: dict) -> str:
    view = doc["size"]
    lines = view["formula"].split("; ") + view["conv_formula"].split("; ")
    parts = ["<h2>size</h2>"]
    parts.extend(f'<p class="formula">{_e(line)}</p>' for line in lines)
    parts.append("<ul>")
    names = {"pytorch": "PyTorch", "keras": "Keras", "onnx": "ONNX", "mxnet": "MXNet"}
    for key, text in view["frameworks"].items():
        parts.append(f"<li>{_e(names.get(key, key))}: <code>{_e(text)}</code></li>")
    parts.append("</ul>")
    return "".join(parts)


def _weights_section(doc: dict) -> str:
    view = doc["weights"]
    parts = ["<h2>weights</h2>", f'<p class="formula">{_e(view["formula"])}</p>']
    for axis, name in (("rows", "row"), ("cols", "column")):
        table = [[item["out"], item["source"]] for item in view[axis]]
        taps = [" + ".join(f"x[{i}]·{_number(w)}" for i, w in item["taps"]) for item in view[axis]]
        rows = "".join(
            f"<tr><td>{_e(_number(o))}</td><td>{_e(_number(u))}</td><td>{_e(t)}</td></tr>"
            for (o, u), t in zip(table, taps, strict=True)
        )
        parts.append(
            f'<h3>{name}s</h3><table class="grid"><tr><th>{name}</th><th>source u</th>'
            f"<th>taps</th></tr>{rows}</table>"
        )
    return "".join(parts)


def _pool_section(doc: dict) -> str:
    view = doc["pool"]
    maxima = {tuple(w["where"]): "#f4ecb0" for w in view["windows"]}
    parts = ["<h2>pool</h2>", '<div class="row">']
    parts.append(_figure("guide (maxima marked)", _grid(view["guide"], colours=maxima)))
    parts.append(_figure("pooled", _grid(view["pooled"])))
    parts.append(_figure("mask", _grid(view["mask"])))
    parts.append(_figure("indices (h·W + w)", _grid(view["indices"])))
    if "unpooled" in view:
        parts.append(_figure("unpooled", _grid(view["unpooled"])))
    parts.append("</div>")
    return "".join(parts)


def _script_json(payload: Any) -> str:
    """JSON that cannot end its ``<script>`` block or open markup."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page(doc: dict, *, crop_text: str = "") -> str:
    """The whole page for an explanation (:func:`upsamp.explain.views.explain`) as a string.

    ``crop_text`` describes the crop in words (the scatter's last step).
    """
    title = f"upsamp explain {doc['method']}"
    head = f"{doc['method']}: input {_size_text(doc['input'])}"
    if "kernel" in doc:
        head += (
            f", kernel {_size_text(doc['kernel'])}, stride {_pair(doc['stride'])}, padding "
            f"{_pair(doc['padding'])}, output_padding {_pair(doc['output_padding'])}, dilation "
            f"{_pair(doc['dilation'])}"
        )
    else:
        head += f", stride {_pair(doc['stride'])}"
    head += f" → output {_size_text(doc['output'])}"
    data = {
        "input": doc["edge"]["input"] if "edge" in doc else doc["input"],
        "kernel": doc.get("kernel"),
        "output": doc["output"],
        "dilation": doc.get("dilation", [1, 1]),
        "scatter": doc.get("scatter"),
        "gather": doc.get("gather"),
        "crop_text": crop_text,
        "colours": list(KERNEL_COLOURS),
    }
    inputs = [_figure(f"input x {_size_text(doc['input'])}", _grid(doc["input"]))]
    if "kernel" in doc:
        inputs.append(_figure(f"kernel K {_size_text(doc['kernel'])}", _grid(doc["kernel"])))
    if "edge" in doc:
        extended = doc["edge"]["input"]
        inputs.append(
            _figure(
                f"input extended ({doc['edge']['mode']}) {_size_text(extended)}, padding "
                f"{_pair(doc['edge']['padding'])}",
                _grid(extended),
            )
        )
    if "guide" in doc:
        inputs.append(_figure(f"guide {_size_text(doc['guide'])}", _grid(doc["guide"])))
    inputs.append(
        _figure(
            f"output y {_size_text(doc['output'])} (computed by the library)",
            _grid(doc["output"], table_id="library-output"),
        )
    )
    sections = []
    if "matrix" in doc:
        sections.append(_matrix_section(doc))
    if "phases" in doc:
        sections.append(_phases_section(doc))
    if "size" in doc:
        sections.append(_size_section(doc))
    if "weights" in doc:
        sections.append(_weights_section(doc))
    if "pool" in doc:
        sections.append(_pool_section(doc))
    stepper = (
        '<section id="stepper" hidden><div class="controls">'
        '<button id="prev" type="button">Previous</button>'
        '<button id="next" type="button">Next</button>'
        '<span id="counter"></span> <span class="note">(or the arrow keys)</span></div>'
        '<h2 id="step-title"></h2><p id="step-text"></p><div class="row">'
        '<div><h3 id="left-title"></h3><table class="grid" id="left"></table></div>'
        '<div><h3 id="mid-title"></h3><table class="grid" id="mid"></table></div>'
        '<div><h3 id="result-title"></h3><table class="grid" id="result"></table></div>'
        "</div></section>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{_e(head)}</h1>"
        f'<div class="row">{"".join(inputs)}</div>'
        f"{stepper}{''.join(sections)}"
        f'<script type="application/json" id="explain-data">{_script_json(data)}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
