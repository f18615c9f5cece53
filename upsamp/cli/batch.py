"""``upsamp batch``: enlarge every image of a folder tree (parse -> :mod:`upsamp.batch` -> render).

stdout carries data only: the ``--json`` records, or the ``--dry-run`` plan. The progress bar,
warnings and the summary table go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..batch import OUTPUT_FORMATS  # a light import: numpy and Pillow load when a run starts
from .options import (
    image_options,
    method_option,
    method_options,
    output_options,
    scheduler_option,
    settings_from_options,
)


@click.command()
@click.argument(
    "input_dir",
    metavar="INPUT_DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the outputs go; the sub-folders of INPUT_DIR are mirrored (created as needed). "
    "It may lie inside INPUT_DIR: it is never searched for inputs.",
)
@method_options
@image_options
@output_options
@click.option("-r", "--recursive", is_flag=True, help="Also enlarge the images of sub-folders.")
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Only files whose path relative to INPUT_DIR, or whose name, matches (repeatable).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out matching files, and folders (repeatable); checked after --include.",
)
@click.option(
    "--hidden", is_flag=True, help="Include hidden files and folders (names starting with '.')."
)
@click.option(
    "--suffix",
    metavar="TEXT",
    help="Text after the stem of each output name [default: _<method>x<stride>, as enlarge].",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(tuple(OUTPUT_FORMATS)),
    default="keep",
    show_default=True,
    help="Output format; 'keep' keeps the input's (PNG for formats upsamp cannot write).",
)
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Leave files whose output exists alone (resume a run) [default: report them as failed].",
)
@method_option(
    "--indices-dir",
    takes="indices",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="{Methods}: folder mirroring INPUT_DIR with one <stem>.npz indices file per image.",
)
@method_option(
    "--guide-dir",
    takes="guide",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="{Methods}: folder mirroring INPUT_DIR with one guide image per image (same name).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes [default: the number of CPUs; fewer when memory is short].",
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first failure.")
@scheduler_option(
    "Run the files as tasks on a Dask cluster: a scheduler address (tcp://host:8786; the "
    "workers must see INPUT_DIR and OUTPUT_DIR at the same paths), or 'local' for a "
    "LocalCluster of --jobs workers. Everything else behaves as without it; with an address, "
    "--jobs caps the files in progress [default: one per worker thread]."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (input → output, size, memory) on stdout and write nothing.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per file on stdout, nothing else."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar and no summary; failures still listed."
)
@click.pass_context
def batch(
    ctx: click.Context,
    input_dir: Path,
    output_dir: Path,
    recursive: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    hidden: bool,
    suffix: str | None,
    output_format: str,
    skip_existing: bool,
    indices_dir: Path | None,
    guide_dir: Path | None,
    jobs: int | None,
    fail_fast: bool,
    scheduler: str | None,
    scheduler_timeout: float,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
    **params: Any,
) -> None:
    """Enlarge every image in INPUT_DIR into OUTPUT_DIR, in parallel.

    Images are recognised by their content, whatever their extension; a file named like an
    image that does not decode is reported as failed, other files are ignored. One bad file
    never stops the run (unless --fail-fast), outputs are written atomically, and a table of
    what was processed, skipped and failed (with the reasons) ends the run.

    \b
    Exit codes: 0 every file processed or skipped; 1 some failed; 2 usage error;
    3 failures and nothing processed or skipped; 130 interrupted (Ctrl-C, SIGTERM).

    \b
    Examples:
      upsamp batch photos -o big -r --method transconv --stride 2
      upsamp batch photos -o big -r --skip-existing          # resume
      upsamp batch photos -o hd -r --size 1920x1080 --strip   # fit inside, no EXIF/GPS
      upsamp batch icons -o big --stride 4 --format jpeg --background white
      upsamp batch scans -o out --include '*.tif' --format png --jobs 4 --json
      upsamp batch /shared/photos -o /shared/big -r --scheduler tcp://10.0.0.5:8786
    """
    from .. import batch as lib
    from ..errors import ParameterError
    from ..methods import get_method

    if skip_existing and params.get("overwrite"):
        raise click.UsageError("give --skip-existing or --overwrite, not both")
    if indices_dir is not None and guide_dir is not None:
        raise click.UsageError("give --indices-dir or --guide-dir, not both")
    method = get_method(params["method"])
    if (indices_dir is not None or guide_dir is not None) and not method.needs_positions:
        flag = "--indices-dir" if indices_dir is not None else "--guide-dir"
        raise click.UsageError(
            f"{flag} does not apply to {method.name}; {method.name} takes "
            f"{', '.join(method.option_flags())}"
        )
    settings = settings_from_options(params, require_indices=False)
    if method.needs_positions and indices_dir is None and guide_dir is None:
        raise click.UsageError(
            f"{method.name} needs the positions of the maxima: pass --indices-dir DIR (one "
            "<stem>.npz per image, written by 'upsamp pool') or --guide-dir DIR"
        )
    try:
        lib.check_folders(input_dir, output_dir)
        options = lib.BatchOptions(
            recursive=recursive,
            include=include,
            exclude=exclude,
            hidden=hidden,
            suffix=suffix,
            output_format=output_format,
            existing="skip" if skip_existing else "overwrite" if settings.overwrite else "fail",
            indices_dir=indices_dir,
            guide_dir=guide_dir,
        )
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None

    from . import render

    plan = lib.plan_batch(input_dir, output_dir, settings, options)
    for problem in plan.problems:
        render.warn(problem)
    if not plan.tasks:
        render.warn(f"no images found in {input_dir}" + ("" if recursive else " (add -r?)"))
        return
    remote = scheduler not in (None, "local")  # the memory of this machine does not matter
    n_jobs, warning = lib.effective_jobs(plan, jobs or lib.default_jobs())
    if warning and not remote:
        render.warn(warning)
    if dry_run:
        _show_plan(plan, n_jobs, as_json)
        return
    if scheduler is None:
        report = _run(plan, n_jobs, fail_fast=fail_fast, as_json=as_json, quiet=quiet)
    else:
        report = _run_on_cluster(
            plan,
            scheduler,
            jobs if remote else n_jobs,
            timeout=scheduler_timeout,
            fail_fast=fail_fast,
            as_json=as_json,
            quiet=quiet,
        )
    if quiet:
        for result in report.failures:
            click.echo(
                render.printable(f"upsamp: failed: {result.input}: {result.reason}"), err=True
            )
    else:
        for result in report.results:
            for note in result.notes:
                render.info(f"note: {_relative(result.input, plan.input_dir)}: {note}")
        _show_summary(plan, report)
    ctx.exit(int(report.exit_code))


def _progress_wanted(console: Any, *, quiet: bool, as_json: bool) -> bool:
    """A progress bar only on an interactive stderr, and not with --quiet or --json."""
    return not quiet and not as_json and console.is_terminal and not console.is_dumb_terminal


def _run_on_cluster(
    plan: Any,
    scheduler: str,
    jobs: int | None,
    *,
    timeout: float,
    fail_fast: bool,
    as_json: bool,
    quiet: bool,
) -> Any:
    """``_run`` with the files as tasks on a Dask cluster (``jobs``: the workers of a local
    cluster, or the cap on files in progress on a remote one)."""
    from .. import batch as lib
    from ..distributed import Cluster, ClusterRunner
    from . import render

    with (
        lib.sigterm_as_keyboard_interrupt(),  # a SIGTERM while connecting also shuts down
        Cluster(scheduler, n_workers=jobs, timeout=timeout) as cluster,
    ):
        runner = ClusterRunner(
            cluster, max_in_flight=None if cluster.is_local else jobs, no_workers_timeout=timeout
        )
        if cluster.threads() == 0:
            render.warn(f"the {cluster.describe()} has no workers yet; waiting for some")
        return _run(
            plan,
            runner.window(),
            fail_fast=fail_fast,
            as_json=as_json,
            quiet=quiet,
            runner=runner,
            where=f" on the {cluster.describe()}",
        )


def _run(
    plan: Any,
    jobs: int,
    *,
    fail_fast: bool,
    as_json: bool,
    quiet: bool,
    runner: Any = None,
    where: str = "",
) -> Any:
    from .. import batch as lib
    from . import render

    console = render.stderr_console()
    on_result = (lambda result: render.print_json(result.to_json())) if as_json else None
    if not _progress_wanted(console, quiet=quiet, as_json=as_json):
        return lib.run_batch(
            plan, jobs=jobs, fail_fast=fail_fast, on_result=on_result, runner=runner
        )

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task_id = progress.add_task(
            f"enlarging · {jobs} job{'s' if jobs > 1 else ''}{where}",
            total=len(plan.tasks),
            rate="",
        )

        def advance(result: Any) -> None:
            progress.advance(task_id)
            speed = progress.tasks[0].speed
            progress.update(task_id, rate=f"{speed:.1f}/s" if speed else "")

        return lib.run_batch(
            plan,
            jobs=jobs,
            fail_fast=fail_fast,
            on_result=on_result,
            on_progress=advance,
            runner=runner,
        )


def _size(nbytes: int | None) -> str:
    if nbytes is None:
        return "?"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


def _dimensions(shape: tuple[int, ...] | None) -> str:
    from ..geometry import format_size  # with numpy: imported when a plan is printed

    return "?" if shape is None else format_size(shape)


def _show_plan(plan: Any, jobs: int, as_json: bool) -> None:
    """The dry-run plan: one line (or JSON object) per file on stdout, totals on stderr."""
    from . import render

    for task in plan.tasks:
        if as_json:
            render.print_json(task.to_json())
        elif task.action == "run":
            click.echo(
                render.printable(
                    f"{task.input} → {task.output}  {_dimensions(task.output_shape)}  "
                    f"~{_size(task.estimated_bytes)}"
                )
            )
        else:
            click.echo(
                render.printable(f"{task.input} → {task.output}  {task.action}: {task.reason}")
            )
    render.info(
        f"dry run: {plan.count('run')} to enlarge, {plan.count('skip')} to skip, "
        f"{plan.count('fail')} would fail; {jobs} job{'s' if jobs > 1 else ''}, about "
        f"{_size(plan.peak_bytes(jobs))} of memory at peak; nothing was written"
    )


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def _show_summary(plan: Any, report: Any) -> None:
    """The end-of-run table on stderr: counts, then each failure with its reason."""
    from rich import box
    from rich.table import Table

    from . import render

    console = render.stderr_console()
    counts = Table(
        title=render.printable(f"upsamp batch: {plan.input_dir} → {plan.output_dir}"),
        box=None,
        show_header=False,
        title_justify="left",
    )
    counts.add_column("result")
    counts.add_column("files", justify="right")
    counts.add_row("processed", str(report.count("ok")))
    counts.add_row("skipped", str(report.count("skipped")))
    counts.add_row("failed", str(report.count("failed")), style="red" if report.failures else None)
    if report.not_started:
        counts.add_row("not started", str(report.not_started), style="yellow")
    console.print(counts)
    if report.failures:
        failures = Table(title="failures", box=box.SIMPLE, title_justify="left")
        failures.add_column("file", overflow="fold")
        failures.add_column("reason", overflow="fold")
        for result in report.failures:  # names relative to INPUT_DIR, shown in the title
            failures.add_row(
                render.printable(_relative(result.input, plan.input_dir)),
                render.printable(result.reason or ""),
            )
        console.print(failures)
    processed = report.count("ok")
    rate = processed / report.seconds if report.seconds > 0 else 0.0
    plural = "s" if report.jobs > 1 else ""
    timing = f"{report.seconds:.1f} s, {rate:.1f} images/s, {report.jobs} job{plural}"
    if report.interrupted:
        ending = f"interrupted after {timing}; run again with --skip-existing to finish"
    elif report.stopped_early:
        ending = f"stopped at the first failure (--fail-fast) after {timing}"
    else:
        ending = f"done in {timing}"
    console.print(ending)


__all__ = ["batch"]
