"""``upsamp enlarge``: one image (or .npy array) through one method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import (
    method_options,
    output_options,
    scheduler_option,
    settings_from_options,
    unpool_options,
)

#: Warn when more than this fraction of integer output values had to be clipped.
CLIP_WARNING_FRACTION = 0.001


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file; the extension picks the format (.npy keeps the exact float result) "
    "[default: <stem>_<method>x<stride><ext> next to INPUT].",
)
@method_options
@unpool_options
@output_options
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
    **params: Any,
) -> None:
    """Enlarge INPUT (an image or a .npy array) with one upsampling method.

    \b
    Examples:
      upsamp enlarge photo.png --method transconv --stride 2
      upsamp enlarge photo.png --method bilinear --scale 1.5 -o big.png
      upsamp enlarge x.npy --method transconv --kernel k.npy --stride 1 -o y.npy --show
      upsamp enlarge photo.png --method transconv --kernel checkerboard --report
      upsamp enlarge huge.png --method transconv --scheduler tcp://10.0.0.5:8786
    """
    from ..pipeline import enlarge_file
    from . import render

    if with_report and (params.get("scale") is not None or params.get("size") is not None):
        raise click.UsageError("--report needs an integer --stride, not --scale or --size")
    settings = settings_from_options(params)
    if scheduler is None:
        outcome = enlarge_file(input_path, output, settings, keep_arrays=show or with_report)
    else:
        outcome = _enlarge_on_cluster(
            scheduler,
            input_path,
            output,
            settings,
            keep_arrays=show or with_report,
            timeout=scheduler_timeout,
        )
    if outcome.clipped_fraction > CLIP_WARNING_FRACTION:
        render.warn(
            f"{outcome.clipped_fraction:.2%} of the output values were outside the image's range "
            "and were clipped; try --normalize or --range rescale"
        )
    if show and outcome.result is not None and outcome.source is not None:
        render.show_arrays({"input": outcome.source, "output": outcome.result})
    diagnostics = _diagnostics(outcome, settings) if with_report else None
    if as_json:
        payload = outcome.to_json()
        if diagnostics is not None:
            payload["report"] = diagnostics.to_json()
        render.print_json(payload)
    else:
        shape_in = "×".join(str(v) for v in outcome.input_shape[:2][::-1])
        shape_out = "×".join(str(v) for v in outcome.output_shape[:2][::-1])
        render.info(
            f"{outcome.input} ({shape_in}) → {outcome.output} ({shape_out}) "
            f"with {outcome.method} in {outcome.seconds:.2f} s"
        )
        if diagnostics is not None:
            from .report import render_report

            render_report(diagnostics)
    if diagnostics is not None:
        from .report import print_report_notes

        print_report_notes(diagnostics)


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
