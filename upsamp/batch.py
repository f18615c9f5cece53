"""The job behind ``upsamp batch``: enlarge every image of a folder tree, in parallel, safely.

No Click and no Rich here; the command line (:mod:`upsamp.cli.batch`) parses, calls and renders.
The work is done in three steps:

1. :func:`plan_batch` walks ``input_dir`` (:func:`candidate_files`), recognises images by their
   content, maps each one to its output under ``output_dir`` (the input tree is mirrored) and
   decides what will happen to it: ``run``, ``skip`` (the output exists and ``--skip-existing``)
   or ``fail`` (the output exists, two inputs share an output, a max-unpool index file is
   missing, a file named like an image does not decode...).
2. :func:`effective_jobs` lowers the number of worker processes when the largest images would
   not fit in the memory available together.
3. :func:`run_batch` enlarges each ``run`` file with :func:`upsamp.pipeline.enlarge_file` (the
   same code as ``upsamp enlarge``), in worker processes, and returns a :class:`BatchReport`.
   A :data:`TaskRunner` may run the files elsewhere instead (:mod:`upsamp.distributed`: on a
   Dask cluster); planning, results, their order, clean-up and exit codes stay the same.

Safety
------
* Outputs are written atomically by :mod:`upsamp.imageio` (a hidden temporary file
  ``.<name>.<run>.<random>.tmp`` next to the output, then a rename; ``<run>`` is the parent's
  token, so another batch writing into the same folder keeps its own temporary files), so the
  output tree only ever holds complete files, and ``skip-existing`` can resume an interrupted run.
* Ctrl-C (SIGINT) and SIGTERM stop the run promptly: workers ignore SIGINT so that the parent
  controls the shutdown, pending files are cancelled, the workers are terminated, and the parent
  removes the temporary files they leave behind and any folder it created that stayed empty.
  :func:`run_batch` then returns normally with ``report.interrupted`` set.
* Worker processes are started with the ``spawn`` method, with ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` set to ``cpus // jobs`` (unless the user set
  them) and the engine's band threads capped likewise (:func:`threads_per_worker`), so that the
  workers together use the CPUs once rather than ``jobs`` times over.
"""

from __future__ import annotations

import fnmatch
import os
import re
import signal
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ExitCode, ParameterError, UpsampError
from .process import sigterm_as_keyboard_interrupt
from .resources import available_memory, estimate_bytes, usable_cpus
from .threads import THREADS_VARIABLE

if TYPE_CHECKING:  # heavy imports (numpy, Pillow) happen inside the functions that need them
    from concurrent.futures import Future, ProcessPoolExecutor

    from . import imageio
    from .pipeline import EnlargeSettings

__all__ = [
    "BatchOptions",
    "run_task",
    "signals_held",
    "BatchPlan",
    "BatchReport",
    "BatchTask",
    "FileResult",
    "TaskRunner",
    "EXISTING_POLICIES",
    "OUTPUT_FORMATS",
    "available_memory",
    "candidate_files",
    "check_folders",
    "default_jobs",
    "default_suffix",
    "effective_jobs",
    "output_path_for",
    "plan_batch",
    "run_batch",
    "sigterm_as_keyboard_interrupt",
    "sweep_temporary_files",
    "threads_per_worker",
]

#: ``--format`` choices and the extension each one gives (``keep``: see :func:`output_path_for`).
OUTPUT_FORMATS: dict[str, str | None] = {
    "keep": None,
    "png": ".png",
    "jpeg": ".jpg",
    "webp": ".webp",
    "tiff": ".tif",
    "gif": ".gif",
}

#: What to do when an output exists: report a failure (default), skip the file, replace it.
EXISTING_POLICIES = ("fail", "skip", "overwrite")

#: Extensions ``keep`` keeps as they are (upsamp can write them).
_WRITABLE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".npy"}
)

#: Pillow format -> extension, for inputs whose own extension upsamp cannot write.
_FORMAT_EXTENSIONS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "WEBP": ".webp",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "GIF": ".gif",
    "NPY": ".npy",
}

#: A file with one of these extensions that does not decode is reported as a failure; any other
#: file that does not decode is not an input and is ignored.
IMAGE_EXTENSIONS = frozenset(
    {
        ".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".tif", ".tiff", ".bmp",
        ".dib", ".gif", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico", ".jp2", ".j2k",
        ".avif", ".heic", ".heif", ".psd", ".npy",
    }
)  # fmt: skip

#: Environment variables that cap the threads of numpy's BLAS/OpenMP in each worker.
THREAD_LIMIT_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Memory one idle worker takes (interpreter, numpy, scipy, Pillow), for the parallelism limit.
WORKER_BASE_BYTES = 120 * 2**20

#: Share of the available memory the workers may plan to use together.
MEMORY_SHARE = 0.8

_START_METHOD = "spawn"

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
#: The ``--json`` status of a file with no result when the run ended (interrupted, or stopped
#: by --fail-fast): it was never started or did not finish (a worker may complete one as the
#: run stops; it is then whole on disk). Streamed only, not kept in ``BatchReport.results``.
NOT_STARTED = "not-started"
RUN, SKIP, FAIL = "run", "skip", "fail"

#: ``runner(tasks, fail_fast, report) -> stopped``: carries out ``tasks`` (the ``run`` tasks,
#: largest first) somewhere other than this machine's worker processes, calls ``report`` with
#: each :class:`FileResult` as soon as it is known (in this thread), and returns True when
#: ``fail_fast`` stopped it. On KeyboardInterrupt it stops the writers it controls before
#: re-raising, so that :func:`run_batch` can sweep their temporary files.
TaskRunner = Callable[[list["BatchTask"], bool, Callable[["FileResult"], None]], bool]


# --------------------------------------------------------------------------------------------
# Options, tasks and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOptions:
    """How files are found and named, beyond the enlargement settings.

    Attributes
    ----------
    recursive : bool
        Descend into sub-folders of ``input_dir``.
    include, exclude : tuple of str
        Shell globs (:mod:`fnmatch`, case-sensitive) matched against the path relative to
        ``input_dir`` (with ``/``) and against the file name; a file is taken when it matches
        any ``include`` (or there are none) and no ``exclude``. A folder whose relative path or
        name matches an ``exclude`` is not entered.
    hidden : bool
        Take hidden files and enter hidden folders (names starting with ``.``).
    suffix : str or None
        Replaces the ``_<method>x<stride>`` part of the output name; None keeps that tag, the
        same as ``upsamp enlarge`` (:func:`default_suffix`).
    output_format : str
        One of :data:`OUTPUT_FORMATS`.
    existing : str
        One of :data:`EXISTING_POLICIES`.
    indices_dir, guide_dir : pathlib.Path or None
        Max-unpool: folders mirroring the input tree, holding ``<relative stem>.npz`` index
        files or guide images of the same relative path.
    """

    recursive: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    hidden: bool = False
    suffix: str | None = None
    output_format: str = "keep"
    existing: str = "fail"
    indices_dir: Path | None = None
    guide_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise ParameterError(
                f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, "
                f"got {self.output_format!r}"
            )
        if self.existing not in EXISTING_POLICIES:
            raise ParameterError(
                f"existing must be one of {', '.join(EXISTING_POLICIES)}, got {self.existing!r}"
            )
        if self.indices_dir is not None and self.guide_dir is not None:
            raise ParameterError("give indices_dir or guide_dir, not both")
        if self.suffix is not None and ("/" in self.suffix or os.sep in self.suffix):
            raise ParameterError(f"the suffix must not contain a path separator: {self.suffix!r}")


@dataclass(frozen=True)
class BatchTask:
    """One input file and what the plan decided for it.

    ``action`` is ``"run"``, ``"skip"`` or ``"fail"`` (with ``reason``); ``index`` is the
    position in the plan, which is also the order of the reports.
    """

    index: int
    input: Path
    relative: Path
    output: Path
    settings: EnlargeSettings | None
    action: str
    reason: str | None = None
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    estimated_bytes: int | None = None
    #: The run part of the temporary names the file is written with (set by :func:`run_batch`,
    #: so that the run removes its own leftovers only); None: the writing process's own.
    run: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description of the planned step (``--dry-run --json``)."""
        return {
            "input": str(self.input),
            "output": str(self.output),
            "action": self.action,
            "reason": self.reason,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "estimated_bytes": self.estimated_bytes,
        }


@dataclass(frozen=True)
class FileResult:
    """What happened to one file: ``status`` is ``"ok"``, ``"skipped"`` or ``"failed"`` (or
    ``"not-started"`` in the ``--json`` stream, see :data:`NOT_STARTED`)."""

    index: int
    input: Path
    output: Path
    status: str
    reason: str | None = None
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    seconds: float = 0.0
    frames: int | None = None  #: frames written (None when nothing was)
    notes: tuple[str, ...] = ()  #: one-line notes (colour conversion, metadata not carried)

    def to_json(self) -> dict[str, Any]:
        """The JSON record of ``--json``: one object per file."""
        return {
            "input": str(self.input),
            "output": str(self.output),
            "status": self.status,
            "reason": self.reason,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "output_shape": None if self.output_shape is None else list(self.output_shape),
            "frames": self.frames,
            "notes": list(self.notes),
            "seconds": round(self.seconds, 6),
        }


@dataclass
class BatchPlan:
    """Every input found, in a stable order (sorted by relative path), with its decided action."""

    input_dir: Path
    output_dir: Path
    tasks: list[BatchTask]
    ignored: int = 0  #: files that are not images (or filtered out by name); never reported
    problems: list[str] = field(default_factory=list)  #: folders that could not be searched

    @property
    def to_run(self) -> list[BatchTask]:
        """The tasks that will be enlarged."""
        return [t for t in self.tasks if t.action == RUN]

    def count(self, action: str) -> int:
        """Number of tasks with ``action``."""
        return sum(1 for t in self.tasks if t.action == action)

    def peak_bytes(self, jobs: int) -> int:
        """Estimated memory of ``jobs`` workers at worst: the ``jobs`` largest estimates."""
        estimates = sorted((t.estimated_bytes or 0 for t in self.to_run), reverse=True)
        return sum(estimates[:jobs])


@dataclass
class BatchReport:
    """The outcome of :func:`run_batch`.

    ``results`` are in plan order and hold every file that finished (processed, skipped or
    failed); files never started (after ``--fail-fast`` stopped the run, or an interruption)
    are counted in ``not_started`` only.
    """

    results: list[FileResult]
    not_started: int = 0
    interrupted: bool = False
    stopped_early: bool = False
    jobs: int = 1
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """Number of results with ``status``."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def failures(self) -> list[FileResult]:
        """The failed files, in plan order."""
        return [r for r in self.results if r.status == FAILED]

    @property
    def exit_code(self) -> ExitCode:
        """130 when interrupted; otherwise 0 when nothing failed, 3 when something failed and
        nothing succeeded (no file processed or skipped), 1 when some failed."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        failed = self.count(FAILED)
        if failed == 0:
            return ExitCode.OK
        if self.count(OK) == 0 and self.count(SKIPPED) == 0:
            return ExitCode.NOTHING_SUCCEEDED
        return ExitCode.FAILURE


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


def check_folders(input_dir: Path, output_dir: Path) -> None:
    """Refuse folder combinations that cannot work.

    Raises
    ------
    ParameterError
        ``input_dir`` is not a folder, or ``output_dir`` is ``input_dir`` itself (outputs would
        be mixed with the inputs and taken as inputs by the next run) or an existing file.
    """
    if not input_dir.is_dir():
        raise ParameterError(f"{input_dir}: not a folder")
    if output_dir.exists() and not output_dir.is_dir():
        raise ParameterError(f"{output_dir}: exists and is not a folder")
    if _resolved(output_dir) == _resolved(input_dir):
        raise ParameterError(
            f"the output folder must differ from the input folder ({input_dir}); "
            "a sub-folder is fine (it is never searched for inputs)"
        )


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _matches(patterns: Iterable[str], relative: str, name: str) -> bool:
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def candidate_files(
    input_dir: Path,
    options: BatchOptions,
    prune: Iterable[Path] = (),
    problems: list[str] | None = None,
) -> tuple[list[Path], int]:
    """Regular files under ``input_dir`` that pass the name filters, sorted by relative path.

    Parameters
    ----------
    input_dir : pathlib.Path
        The folder to search.
    options : BatchOptions
        ``recursive``, ``hidden``, ``include`` and ``exclude`` apply here.
    prune : iterable of pathlib.Path
        Folders never entered (the output folder, and index or guide folders when they lie
        inside ``input_dir``), compared after resolving links.
    problems : list of str, optional
        Receives one line per folder that could not be read (it is skipped).

    Returns
    -------
    files : list of pathlib.Path
        ``input_dir / relative`` for each file found; whether it is an image is decided later.
    filtered : int
        Files left out by the hidden/include/exclude rules.

    Notes
    -----
    Symbolic links to files are followed; links to folders are not entered (no cycles). Only
    regular files are returned (no FIFOs or devices, which could block a read).
    """
    pruned = {_resolved(p) for p in prune}
    found: list[Path] = []
    filtered = 0

    def unreadable(error: OSError) -> None:
        if problems is not None:
            problems.append(f"{error.filename}: cannot read the folder ({error.strerror})")

    for dirpath, dirnames, filenames in _walk(input_dir, unreadable):
        here = Path(dirpath)
        if here != input_dir and _resolved(here) in pruned:
            dirnames[:] = []
            continue
        rel_dir = here.relative_to(input_dir)
        kept_dirs = []
        for name in sorted(dirnames):
            rel = (rel_dir / name).as_posix()
            if not options.recursive:
                continue
            if not options.hidden and _is_hidden(name):
                continue
            if options.exclude and _matches(options.exclude, rel, name):
                continue
            if _resolved(here / name) in pruned:
                continue
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            if (
                (not options.hidden and _is_hidden(name))
                or (options.include and not _matches(options.include, rel, name))
                or (options.exclude and _matches(options.exclude, rel, name))
            ):
                filtered += 1
                continue
            path = here / name
            try:
                if not stat.S_ISREG(path.stat().st_mode):
                    continue
            except OSError:  # a dangling link
                continue
            found.append(path)
    found.sort(key=lambda p: p.relative_to(input_dir).parts)
    return found, filtered


def _walk(
    top: Path, onerror: Callable[[OSError], None]
) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top, onerror=onerror)`` (top-down, links to folders not entered, ``dirnames``
    may be pruned) with a stack instead of recursion, so a tree thousands of folders deep does
    not exhaust Python's recursion limit."""
    stack = [os.fspath(top)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                found = list(entries)
        except OSError as error:
            onerror(error)
            continue
        dirnames, filenames = [], []
        for entry in found:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            (dirnames if is_dir else filenames).append(entry.name)
        yield folder, dirnames, filenames
        stack.extend(os.path.join(folder, name) for name in reversed(dirnames))


# --------------------------------------------------------------------------------------------
# Reading headers
# --------------------------------------------------------------------------------------------


def _probe(path: Path) -> imageio.ImageHeader | None:
    from . import imageio

    return imageio.probe(path)


def _load_error(path: Path, max_pixels: int | None) -> str | None:
    """The loader's own message for a file that looks like an image but has no usable header,
    or None when it loads after all."""
    from . import imageio

    try:
        imageio.load_input(path, max_pixels=max_pixels)
    except UpsampError as exc:
        return str(exc)
    except Exception as exc:  # the loader should not raise anything else; report it anyway
        return f"{type(exc).__name__}: {exc}"
    return None


# --------------------------------------------------------------------------------------------
# Naming and planning
# --------------------------------------------------------------------------------------------


def default_suffix(settings: EnlargeSettings) -> str:
    """The tag ``upsamp enlarge`` puts after the stem: ``_<method>x<stride>`` (``x1.5`` for a
    scale, ``_WxH`` for a size), e.g. ``_bilinearx2``.

    >>> from upsamp.pipeline import EnlargeSettings
    >>> default_suffix(EnlargeSettings(method="nearest"))
    '_nearestx2'
    """
    from .pipeline import default_output_path

    stem = "name"
    return default_output_path(Path(stem), settings, suffix="").name[len(stem) :]


def output_path_for(
    relative: Path,
    output_dir: Path,
    *,
    suffix: str,
    output_format: str = "keep",
    detected_format: str | None = None,
) -> Path:
    """Where the output of the input ``relative`` (to the input folder) goes.

    ``output_dir / relative.parent / (relative.stem + suffix + extension)``. The extension is
    the one of ``output_format`` (:data:`OUTPUT_FORMATS`); ``keep`` keeps the input's own
    extension when upsamp can write it (``.png .jpg .jpeg .webp .tif .tiff .bmp .gif .npy``, the
    case kept), otherwise uses the extension of the format found in the file
    (``detected_format``, e.g. a PNG without extension gets ``.png``), and ``.png`` for formats
    upsamp does not write.

    >>> output_path_for(Path("a/b.JPG"), Path("out"), suffix="_x2").as_posix()
    'out/a/b_x2.JPG'
    >>> output_path_for(Path("scan"), Path("out"), suffix="_x2", detected_format="TIFF").name
    'scan_x2.tif'
    >>> output_path_for(Path("b.jpg"), Path("out"), suffix="", output_format="webp").name
    'b.webp'
    """
    extension = OUTPUT_FORMATS[output_format]
    if extension is None:
        own = relative.suffix
        if own.lower() in _WRITABLE_EXTENSIONS:
            extension = own
        else:
            extension = _FORMAT_EXTENSIONS.get(detected_format or "", ".png")
    own_suffix = relative.suffix if relative.suffix.lower() in IMAGE_EXTENSIONS else ""
    stem = relative.name[: len(relative.name) - len(own_suffix)] if own_suffix else relative.name
    return output_dir / relative.parent / f"{stem}{suffix}{extension}"


def _estimate(header: imageio.ImageHeader, out_shape: tuple[int, ...]) -> int:
    """Peak working memory of one file, with the alpha plane counted as one more channel."""

    def with_alpha(shape: tuple[int, ...]) -> tuple[int, ...]:
        channels = shape[2] if len(shape) == 3 else 1
        return (shape[0], shape[1], channels + (1 if header.has_alpha else 0))

    return estimate_bytes(with_alpha(header.shape), with_alpha(out_shape))


def plan_batch(
    input_dir: Path,
    output_dir: Path,
    settings: EnlargeSettings,
    options: BatchOptions = BatchOptions(),  # noqa: B008 (frozen, never mutated)
) -> BatchPlan:
    """Find the inputs and decide, file by file, what the run will do.

    Parameters
    ----------
    input_dir, output_dir : pathlib.Path
        The folders (:func:`check_folders` is applied). Nothing is created or written here.
    settings : upsamp.pipeline.EnlargeSettings
        The enlargement of every file. ``overwrite`` is set from ``options.existing``; for
        max-unpool, ``indices_file``/``guide_file`` are set per file from the mirrored folder.
    options : BatchOptions
        Discovery and naming.

    Returns
    -------
    BatchPlan
        One task per input, sorted by relative path. Files are inputs when their content is an
        image (or a ``.npy`` array); a file named like an image (:data:`IMAGE_EXTENSIONS`)
        that does not decode gets a ``fail`` task with the loader's message; other files are
        counted in ``ignored``.

    Notes
    -----
    An output that exists gets ``skip`` (``existing="skip"``), ``fail`` (``"fail"``) or ``run``
    with overwriting (``"overwrite"``). When two inputs would write the same output (``a.png``
    and ``a.jpg`` with ``--format png``), the first in order is enlarged and the others fail.
    """
    from .pipeline import output_shape

    check_folders(input_dir, output_dir)
    prune = [output_dir] + [d for d in (options.indices_dir, options.guide_dir) if d is not None]
    problems: list[str] = []
    files, filtered = candidate_files(input_dir, options, prune, problems)
    suffix = options.suffix if options.suffix is not None else default_suffix(settings)
    base = replace(settings, overwrite=options.existing == "overwrite")
    claimed: dict[Path, Path] = {}
    tasks: list[BatchTask] = []
    ignored = filtered
    for path in files:
        relative = path.relative_to(input_dir)
        header = _probe(path)
        broken_reason = None
        if header is None:
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                ignored += 1
                continue
            broken_reason = _load_error(path, settings.max_pixels)
        output = output_path_for(
            relative,
            output_dir,
            suffix=suffix,
            output_format=options.output_format,
            detected_format=header.format if header else None,
        )
        task = BatchTask(
            index=len(tasks),
            input=path,
            relative=relative,
            output=output,
            settings=_settings_for(base, relative, options),
            action=RUN,
            input_shape=header.shape if header else None,
        )
        key = _resolved(output)
        if broken_reason is not None:
            task = replace(task, action=FAIL, reason=_one_line(broken_reason, task))
        elif key in claimed:
            task = replace(
                task, action=FAIL, reason=f"same output as {claimed[key]}; use --suffix or --format"
            )
        elif output.exists() or output.is_symlink():
            if options.existing == "skip":
                task = replace(task, action=SKIP, reason="output exists")
            elif options.existing == "fail":
                task = replace(
                    task,
                    action=FAIL,
                    reason="output exists (use --skip-existing to keep it or --overwrite)",
                )
        if broken_reason is None:
            claimed.setdefault(key, path)
        if task.action != FAIL and header is not None and task.settings is not None:
            task = _with_shapes(task, header, output_shape)
        tasks.append(task)
    return BatchPlan(input_dir, output_dir, tasks, ignored=ignored, problems=problems)


def _settings_for(base: EnlargeSettings, relative: Path, options: BatchOptions) -> EnlargeSettings:
    if options.indices_dir is not None:
        return replace(
            base,
            indices_file=options.indices_dir / relative.parent / (relative.stem + ".npz"),
            guide_file=None,
            positions=None,
        )
    if options.guide_dir is not None:
        return replace(
            base, guide_file=options.guide_dir / relative, indices_file=None, positions=None
        )
    return base


def _with_shapes(
    task: BatchTask, header: imageio.ImageHeader, output_shape: Callable[..., tuple[int, ...]]
) -> BatchTask:
    """Add the output shape and memory estimate; a missing index/guide file fails the task."""
    settings = task.settings
    assert settings is not None
    if settings.guide_file is not None and not settings.guide_file.is_file():
        return replace(task, action=FAIL, reason=f"no guide image {settings.guide_file}")
    if settings.indices_file is not None and not settings.indices_file.is_file():
        return replace(task, action=FAIL, reason=f"no indices file {settings.indices_file}")
    try:
        shape = tuple(output_shape(header.shape, settings))
    except UpsampError as exc:
        return replace(task, action=FAIL, reason=_one_line(str(exc), task))
    return replace(task, output_shape=shape, estimated_bytes=_estimate(header, shape))


def _one_line(message: str, task: BatchTask) -> str:
    """The reason without the file name the table already shows, on one line."""
    text = " ".join(str(message).split())
    for prefix in (str(task.input), str(task.output)):
        if text.startswith(prefix + ": "):
            return text[len(prefix) + 2 :]
    return text


# --------------------------------------------------------------------------------------------
# Parallelism and memory
# --------------------------------------------------------------------------------------------


def default_jobs() -> int:
    """Workers to start when ``--jobs`` is not given: :func:`upsamp.resources.usable_cpus`."""
    return usable_cpus()


def effective_jobs(
    plan: BatchPlan, jobs: int, available: int | None = None
) -> tuple[int, str | None]:
    """How many workers to start, and a warning when memory made it fewer than ``jobs``.

    Parameters
    ----------
    plan : BatchPlan
        The estimates of the ``run`` tasks are used.
    jobs : int
        The number asked for (at least 1).
    available : int or None
        Bytes of memory available; None reads :func:`available_memory`.

    Returns
    -------
    jobs : int
        The largest ``n <= jobs`` (and at most the number of files to run) such that the ``n``
        largest estimates plus ``n`` idle workers (:data:`WORKER_BASE_BYTES`) fit in
        :data:`MEMORY_SHARE` of ``available``; at least 1.
    warning : str or None
        Why the number was lowered, or that even one image will not fit.

    Examples
    --------
    >>> plan = BatchPlan(Path("in"), Path("out"), [
    ...     BatchTask(i, Path(f"{i}.png"), Path(f"{i}.png"), Path(f"o{i}.png"), None, "run",
    ...               estimated_bytes=2**30) for i in range(4)])
    >>> effective_jobs(plan, 4, available=3 * 2**30)[0]
    2
    """
    if jobs < 1:
        raise ParameterError(f"jobs must be at least 1, got {jobs}")
    estimates = sorted((t.estimated_bytes or 0 for t in plan.to_run), reverse=True)
    wanted = max(1, min(jobs, len(estimates)))
    if available is None:
        available = available_memory()
    if available is None or not estimates:
        return wanted, None
    budget = int(available * MEMORY_SHARE)
    n = wanted
    while n > 1 and sum(estimates[:n]) + n * WORKER_BASE_BYTES > budget:
        n -= 1
    gib = 2**30
    if estimates[0] + WORKER_BASE_BYTES > budget:
        return 1, (
            f"the largest image needs about {estimates[0] / gib:.1f} GiB of memory and "
            f"{available / gib:.1f} GiB is available; running one file at a time (files that "
            "do not fit will fail)"
        )
    if n < wanted:
        return n, (
            f"running {n} job{'s' if n > 1 else ''} instead of {wanted}: the largest images need "
            f"about {estimates[0] / gib:.1f} GiB of memory each and {available / gib:.1f} GiB is "
            "available"
        )
    return n, None


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def threads_per_worker(jobs: int) -> int:
    """Threads each of ``jobs`` workers may use so that together they fill the CPUs once:
    ``cpus // jobs``, at least 1 (2 workers on 2 CPUs: 1 each; 2 workers on 8 CPUs: 4 each).
    """
    return max(1, default_jobs() // max(1, jobs))


def _init_worker(threads: int, parent_pid: int | None = None) -> None:
    """Worker start-up: end with the parent (even when it is killed with SIGKILL), ignore
    SIGINT (the parent decides when workers stop) and cap the threads one image may use at
    ``threads``."""
    from .process import die_with_parent, install_one_line_warnings

    if parent_pid is not None:
        die_with_parent(parent_pid)
    install_one_line_warnings()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in THREAD_LIMIT_VARIABLES:
        os.environ.setdefault(name, str(threads))
    os.environ[THREADS_VARIABLE] = str(threads)  # threads of one image: engine and PNG encoder


def run_task(task: BatchTask) -> FileResult:
    """Enlarge one file (in a worker, or in the main process for one job); never raises for a
    problem with the file, only for an interruption."""
    from . import imageio  # here, not at the top: for start-up time (numpy, Pillow)
    from .pipeline import enlarge_file

    started = time.perf_counter()

    def failed(reason: str) -> FileResult:
        return FileResult(
            task.index,
            task.input,
            task.output,
            FAILED,
            _one_line(reason, task),
            task.input_shape,
            None,
            time.perf_counter() - started,
        )

    assert task.settings is not None
    try:
        task.output.parent.mkdir(parents=True, exist_ok=True)
        with imageio.temp_run(task.run) if task.run else nullcontext():
            outcome = enlarge_file(task.input, task.output, task.settings)
    except UpsampError as exc:
        return failed(str(exc))
    except MemoryError:
        return failed("out of memory")
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return failed(f"{where}{exc.strerror or exc}")
    except Exception as exc:  # one broken file must not stop the batch
        return failed(f"unexpected error: {type(exc).__name__}: {exc}")
    return FileResult(
        task.index,
        task.input,
        task.output,
        OK,
        None,
        tuple(outcome.input_shape),
        tuple(outcome.output_shape),
        time.perf_counter() - started,
        frames=outcome.frames,
        notes=tuple(outcome.notes),
    )


class _Collector:
    """Receives results in completion order; hands them on in completion order
    (``on_progress``) and in plan order (``on_result``)."""

    def __init__(
        self,
        on_result: Callable[[FileResult], None] | None,
        on_progress: Callable[[FileResult], None] | None,
    ) -> None:
        self.results: dict[int, FileResult] = {}
        self._order: list[int] = []
        self._next = 0
        self._on_result = on_result
        self._on_progress = on_progress

    def set_order(self, indices: Sequence[int]) -> None:
        self._order = list(indices)

    def add(self, result: FileResult) -> None:
        self.results[result.index] = result
        if self._on_progress is not None:
            self._on_progress(result)
        while self._next < len(self._order) and self._order[self._next] in self.results:
            self._emit(self.results[self._order[self._next]])
            self._next += 1

    def finish(self, unfinished: Callable[[int], FileResult] | None = None) -> None:
        """Hand on the results still waiting for an earlier file that never finished, and
        ``unfinished(index)`` in the place of each file that has no result, so the stream names
        every file (these are not added to ``results``)."""
        for index in self._order[self._next :]:
            if index in self.results:
                self._emit(self.results[index])
            elif unfinished is not None:
                self._emit(unfinished(index))
        self._next = len(self._order)

    def _emit(self, result: FileResult) -> None:
        if self._on_result is not None:
            self._on_result(result)


@contextmanager
def signals_held() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while cleaning up after an interruption (a second Ctrl-C must
    not leave temporary files behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _thread_limits_for_workers(threads: int) -> Iterator[None]:
    """Set the thread-limit variables (unless the user did) for the workers about to start:
    spawned workers read them before numpy loads its BLAS."""
    added = [name for name in THREAD_LIMIT_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = str(threads)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """Terminate the worker processes now (their current files are abandoned)."""
    # ProcessPoolExecutor has no public way to stop running work before Python 3.14
    # (terminate_workers); without its process table, shutdown() waits for the running files.
    terminate = getattr(executor, "terminate_workers", None)
    if callable(terminate):
        terminate()
        return
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def _died(task: BatchTask) -> FileResult:
    return FileResult(
        task.index,
        task.input,
        task.output,
        FAILED,
        "the worker process died while enlarging this file (killed, or out of memory?)",
        task.input_shape,
        None,
    )


def _run_in_pool(tasks: list[BatchTask], jobs: int, fail_fast: bool, collector: _Collector) -> bool:
    """Run ``tasks`` on ``jobs`` worker processes; return True when ``fail_fast`` stopped it.

    At most ``jobs`` files are handed out at a time, so a stop leaves nothing queued in the
    executor. A task whose worker died is retried once in a fresh pool (a death breaks every
    running task, not only the guilty one).
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = deque(tasks)
    deaths: dict[int, int] = {}
    stopped = False
    import multiprocessing  # here: the module is slow to import and only runs need it

    context = multiprocessing.get_context(_START_METHOD)
    threads = threads_per_worker(jobs)
    with _thread_limits_for_workers(threads):
        while queue and not stopped:
            executor = ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=context,
                initializer=_init_worker,
                initargs=(threads, os.getpid()),
            )
            in_flight: dict[Future[FileResult], BatchTask] = {}
            broken = False
            try:
                while (queue and not stopped and not broken) or in_flight:
                    while queue and not stopped and not broken and len(in_flight) < jobs:
                        task = queue.popleft()
                        try:
                            in_flight[executor.submit(run_task, task)] = task
                        except BrokenProcessPool:
                            queue.appendleft(task)
                            broken = True
                    if not in_flight:
                        break
                    done, _ = wait(in_flight, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        task = in_flight.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            broken = True
                            time.sleep(0.2)  # a SIGTERM to the process group lands here first
                            deaths[task.index] = deaths.get(task.index, 0) + 1
                            if deaths[task.index] == 1:
                                queue.appendleft(task)
                                continue
                            result = _died(task)
                        except Exception as exc:  # e.g. a result that could not be pickled
                            result = replace(
                                _died(task), reason=f"unexpected error: {type(exc).__name__}: {exc}"
                            )
                        collector.add(result)
                        if fail_fast and result.status == FAILED:
                            stopped = True
            except KeyboardInterrupt:
                with signals_held():
                    _stop_workers(executor)
                    executor.shutdown(wait=True, cancel_futures=True)
                raise
            executor.shutdown(wait=True, cancel_futures=True)
    return stopped


def _run_here(tasks: list[BatchTask], fail_fast: bool, collector: _Collector) -> bool:
    """Run ``tasks`` one after another in this process; return True when ``fail_fast`` stopped
    it."""
    for task in tasks:
        result = run_task(task)
        collector.add(result)
        if fail_fast and result.status == FAILED:
            return True
    return False


def sweep_temporary_files(outputs: Iterable[Path], run: str) -> list[Path]:
    """Remove the temporary files :func:`upsamp.imageio.atomic_write` may have left for
    ``outputs`` in run ``run`` (``.<name>.<run>.<12 hex digits>.tmp`` next to each, see
    :func:`upsamp.imageio.temp_name_pattern`) and return those removed. The temporary files of
    other runs writing into the same folder are left alone.

    Call it only when no process of this run is writing these outputs any more.
    """
    from . import imageio  # here, not at the top: for start-up time (numpy, Pillow)

    removed = []
    by_folder: dict[Path, list[re.Pattern[str]]] = {}
    for output in outputs:
        by_folder.setdefault(output.parent, []).append(imageio.temp_name_pattern(output, run))
    for folder, patterns in by_folder.items():
        if not folder.is_dir():
            continue
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") and any(p.fullmatch(entry.name) for p in patterns):
                try:
                    entry.unlink()
                    removed.append(entry)
                except OSError:
                    pass
    return removed


def _new_folders(outputs: Iterable[Path]) -> list[Path]:
    """Folders that do not exist yet and that writing ``outputs`` creates, deepest first."""
    missing: set[Path] = set()
    for output in outputs:
        folder = output.parent.absolute()
        while not folder.exists() and folder.parent != folder:
            missing.add(folder)
            folder = folder.parent
    return sorted(missing, key=lambda p: len(p.parts), reverse=True)


def _remove_empty(folders: Iterable[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): keep it
            pass


def run_batch(
    plan: BatchPlan,
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    on_result: Callable[[FileResult], None] | None = None,
    on_progress: Callable[[FileResult], None] | None = None,
    runner: TaskRunner | None = None,
) -> BatchReport:
    """Carry out ``plan``.

    Parameters
    ----------
    plan : BatchPlan
        From :func:`plan_batch`; its ``skip`` and ``fail`` tasks become results at once.
    jobs : int
        Worker processes (see :func:`effective_jobs`); 1 runs in this process. With a
        ``runner``, only reported (``report.jobs``).
    fail_fast : bool
        Stop at the first failure: no new file is started, the running ones finish. A failure
        found by the plan stops the run before any file is enlarged. (With several jobs the
        files are started largest first, so "first" is in that order.)
    on_result : callable, optional
        Called with each :class:`FileResult` in plan order, as soon as every earlier file has
        finished (for streamed ``--json`` records in a stable order).
    on_progress : callable, optional
        Called with each :class:`FileResult` as soon as it is known (for a progress bar).
    runner : TaskRunner, optional
        Runs the files instead of this machine's worker processes (e.g.
        :class:`upsamp.distributed.ClusterRunner`); given the tasks largest first.

    Returns
    -------
    BatchReport
        With ``interrupted`` set after Ctrl-C or SIGTERM: the workers were terminated, the
        temporary files of unfinished outputs removed, and the results hold what finished.

    Notes
    -----
    Folders of the output tree are created by the workers as they are needed; those that end
    up empty (every file in them failed or was not started) are removed again.
    """
    started = time.perf_counter()
    collector = _Collector(on_result, on_progress)
    collector.set_order([t.index for t in plan.tasks])
    # Every file of this run is written with this process's run token (in the workers too,
    # here or on a cluster), so the final sweep removes only this run's temporary files.
    from . import imageio  # here, not at the top: for start-up time (numpy, Pillow)

    run = imageio.temp_run_token()
    to_run = [replace(t, run=run) for t in plan.to_run]
    folders = _new_folders(t.output for t in to_run)
    interrupted = stopped = False
    with sigterm_as_keyboard_interrupt():
        try:
            for task in plan.tasks:
                if task.action == SKIP:
                    collector.add(_planned_result(task, SKIPPED))
                elif task.action == FAIL:
                    collector.add(_planned_result(task, FAILED))
                    stopped = stopped or fail_fast
            if to_run and not stopped:
                # Largest first: a big image started last would leave the other workers idle
                # at the end. Reports still come in plan order.
                largest_first = sorted(to_run, key=lambda t: -(t.estimated_bytes or 0))
                if runner is not None:
                    stopped = runner(largest_first, fail_fast, collector.add)
                elif jobs > 1 and len(to_run) > 1:
                    stopped = _run_in_pool(largest_first, jobs, fail_fast, collector)
                else:
                    stopped = _run_here(to_run, fail_fast, collector)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            with signals_held():  # every writer is gone now (workers stopped or joined)
                sweep_temporary_files((t.output for t in to_run), run)
                _remove_empty(folders)
    by_index = {t.index: t for t in plan.tasks}
    why = "the run was interrupted" if interrupted else "the run stopped at the first failure"
    collector.finish(lambda index: _planned_result(by_index[index], NOT_STARTED, why))
    results = [collector.results[t.index] for t in plan.tasks if t.index in collector.results]
    return BatchReport(
        results=results,
        not_started=sum(1 for t in to_run if t.index not in collector.results),
        interrupted=interrupted,
        stopped_early=stopped and not interrupted,
        jobs=jobs,
        seconds=time.perf_counter() - started,
    )


def _planned_result(task: BatchTask, status: str, reason: str | None = None) -> FileResult:
    return FileResult(
        task.index,
        task.input,
        task.output,
        status,
        reason if reason is not None else task.reason,
        task.input_shape,
        task.output_shape if status == SKIPPED else None,
    )
