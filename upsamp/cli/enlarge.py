"""``upsamp enlarge``: one image (or .npy array) through one method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import (
    image_options,
    method_options,
    output_options,
    scheduler_option,
    settings_from_options,
    unpool_options,
)

#: Warn when more than this fraction of integer output values had to be clipped (unless the
#: method declares that it overshoots: ``Method.overshoots``).
CLIP_WARNING_FRACTION = 0.001

#: The progress bar appears once one image has taken this many seconds.
PROGRESS_DELAY = 1.0

#: ``--format`` choices (to standard output, or the default output's extension).
FORMAT_CHOICES = ("png", "jpeg", "webp", "tiff", "gif", "npy")


def _clipping_advice(kernel: Any) -> str:
    """What may help when values were clipped: ``--normalize`` only for a kernel file (a
    preset is normalised already, so the flag would change nothing), ``--range rescale``
    always (it maps the whole result into the range, which also moves every other value)."""
    rescale = "--range rescale maps the result's range into the image's (every value moves)"
    if kernel is not None and getattr(kernel, "source", "preset") != "preset":
        return f"try --normalize (the kernel keeps a flat image's level), or {rescale}"
    return rescale


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Output file; the extension picks the format (.npy keeps the exact float result); "
    "'-' writes to standard output [default: <stem>_<method>x<stride><ext> next to INPUT].",
)
@method_options
@unpool_options
@image_options
@output_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMAT_CHOICES),
    help="Output format: of '-o -' (standard output), or of the default output name "
    "[default: the input's].",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar and no success line (notes stay)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object about the run on stdout."
)
@click.option("--show", is_flag=True, help="Print small input and output arrays (up to 16×16).")
@scheduler_option(
    "Compute on a Dask cluster: a scheduler address (tcp://host:8786), or 'local' for a "
    "cluster of this machine's CPUs. The output rows are split into chunks computed by the "
    "workers; the file is read and written here, identical to a run without --scheduler."
)
@click.option(
    "--report",
    "with_report",
    is_flag=True,
    help="After writing the output, print its checkerboard diagnostics (as 'upsamp report "
    '--no-roundtrip\'); with --json they go under "report".',
)
def enlarge(
    input_path: Path,
    output: Path | None,
    as_json: bool,
    show: bool,
    with_report: bool,
    scheduler: str | None,
    scheduler_timeout: float,
    quiet: bool,
    **params: Any,
) -> None:
    """Enlarge INPUT (an image or a .npy array) with one upsampling method.

    \b
    INPUT '-' reads standard input; '-o -' writes the result to standard output.

    \b
    Examples:
      upsamp enlarge photo.png --method transconv --stride 2
      upsamp enlarge photo.png --method bilinear --scale 1.5 -o big.png
      upsamp enlarge photo.jpg --scale 200% -o big.jpg
      upsamp enlarge photo.jpg --size 1920x -o wide.jpg         # width 1920, aspect kept
      upsamp enlarge photo.jpg --size x1080 -o tall.jpg         # height 1080, aspect kept
      upsamp enlarge photo.jpg --size 1920x1080 -o fit.jpg      # fits inside 1920x1080
      upsamp enlarge photo.jpg --size 1920x1080! -o hd.jpg      # exactly 1920x1080
      upsamp enlarge logo.png --stride 4 --background white -o logo.jpg
      upsamp enlarge anim.gif --stride 2 -o big.gif             # every frame
      cat photo.png | upsamp enlarge - -o - --format png > big.png
      upsamp enlarge x.npy --method transconv --kernel k.npy --stride 1 -o y.npy --show
      upsamp enlarge photo.png --method transconv --kernel checkerboard --report
      upsamp enlarge huge.png --method transconv --scheduler tcp://10.0.0.5:8786
    """
    from ..methods import get_method
    from ..pipeline import enlarge_file
    from . import render

    if with_report and (params.get("scale") is not None or params.get("size") is not None):
        raise click.UsageError("--report needs an integer --stride, not --scale or --size")
    _check_streams(input_path, output, params.get("output_format"), as_json, show, with_report)
    settings = settings_from_options(params)
    if scheduler is None:
        progress = None
        if not (quiet or as_json) and _interactive_stderr():
            progress = _DelayedProgress(f"enlarging {input_path}")
        try:
            outcome = enlarge_file(
                input_path,
                output,
                settings,
                keep_arrays=show or with_report,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.close()
    else:
        outcome = _enlarge_on_cluster(
            scheduler,
            input_path,
            output,
            settings,
            keep_arrays=show or with_report,
            timeout=scheduler_timeout,
        )
    for note in outcome.notes:
        render.info(f"note: {note}")
    expected = get_method(settings.method).overshoots(settings.options)
    if outcome.clipped_fraction > CLIP_WARNING_FRACTION and not expected:
        render.warn(
            f"{outcome.clipped_fraction:.2%} of the output values were outside the image's range "
            f"and were clipped; {_clipping_advice(settings.options.kernel)}"
        )
    if show and outcome.result is not None and outcome.source is not None:
        render.show_arrays({"input": outcome.source, "output": outcome.result})
    diagnostics = _diagnostics(outcome, settings) if with_report else None
    if as_json:
        payload = outcome.to_json()
        if diagnostics is not None:
            payload["report"] = diagnostics.to_json()
        render.print_json(payload)
    elif not quiet:
        from ..geometry import format_size  # numpy is loaded by now

        shape_in = format_size(outcome.input_shape)
        shape_out = format_size(outcome.output_shape)
        frames = f", {outcome.frames} frames" if outcome.frames > 1 else ""
        source = "standard input" if str(outcome.input) == "-" else str(outcome.input)
        target = "standard output" if str(outcome.output) == "-" else str(outcome.output)
        render.info(
            f"{source} ({shape_in}) → {target} ({shape_out}{frames}) "
            f"with {outcome.method} in {outcome.seconds:.2f} s"
        )
        if diagnostics is not None:
            from .report import render_report

            render_report(diagnostics)
    if diagnostics is not None:
        from .report import print_report_notes

        print_report_notes(diagnostics)


def _check_streams(
    input_path: Path,
    output: Path | None,
    output_format: str | None,
    as_json: bool,
    show: bool,
    with_report: bool,
) -> None:
    """Refuse what standard input and output cannot do: stdin without -o, data on a terminal,
    anything but the image on stdout, and a --format that contradicts the output's name."""
    import sys

    from ..errors import OutputError

    if str(input_path) == "-" and output is None:
        raise click.UsageError("reading standard input ('-') needs -o FILE or -o -")
    if output is not None and str(output) == "-":
        clashes = [flag for flag, on in (("--json", as_json), ("--show", show),
                                         ("--report", with_report)) if on]  # fmt: skip
        if clashes:
            raise click.UsageError(
                f"-o - writes the image to standard output; {', '.join(clashes)} would mix "
                "text into it"
            )
        if sys.stdout.isatty():
            raise OutputError(
                "standard output is a terminal; redirect it (> FILE or | PROGRAM) or give "
                "-o FILE"
            )
        return
    if output is not None and output_format is not None:
        from ..imageio import format_extension
        from ..imageio import output_format as format_of

        if format_of(output) != format_of(Path("-"), output_format):
            raise click.UsageError(
                f"--format {output_format} does not match the output name {output} (expected "
                f"{format_extension(output_format)}); drop one of them"
            )


def _interactive_stderr() -> bool:
    """stderr is a terminal that can draw a progress bar."""
    from .render import stderr_console

    console = stderr_console()
    return bool(console.is_terminal and not console.is_dumb_terminal)


class _DelayedProgress:
    """A Rich progress bar on stderr for one image, shown only once the work has taken more
    than :data:`PROGRESS_DELAY` seconds (the pipeline calls it with rows done and in all)."""

    def __init__(self, label: str) -> None:
        import time

        self.label = label
        self.started = time.monotonic()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        import time

        if self.bar is None:
            if time.monotonic() - self.started < PROGRESS_DELAY or done >= total:
                return
            # rich.progress is imported here, not at module level, for start-up time
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            from .render import stderr_console

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=stderr_console(),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _enlarge_on_cluster(
    scheduler: str,
    input_path: Path,
    output: Path | None,
    settings: Any,
    *,
    keep_arrays: bool,
    timeout: float,
) -> Any:
    """``enlarge_file`` with the work done by the workers of ``scheduler``."""
    from ..distributed import Cluster, enlarge_on_cluster

    with Cluster(scheduler, timeout=timeout) as cluster:
        return enlarge_on_cluster(
            input_path, output, settings, cluster.client, keep_arrays=keep_arrays
        )


def _diagnostics(outcome: Any, settings: Any) -> Any:
    """The report of the enlarged result (``upsamp.report.report_enlarged``); the stride is
    the settings' (for max-unpool, the one its indices file recorded)."""
    from ..report import report_enlarged

    return report_enlarged(
        outcome.source,
        outcome.result,
        method=settings.method,
        options=settings.options,
        name=str(outcome.input),
    )
