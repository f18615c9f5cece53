"""Scale-out on a Dask cluster: ``upsamp batch --scheduler`` and ``upsamp enlarge --scheduler``.

Dask (``dask.distributed``) is an optional extra: ``pip install "upsamp[distributed]"``. It is
imported inside the functions that use it, so importing this module needs nothing more than the
core install, and a missing extra is one clear :class:`ClusterError`.

Two kinds of work go to a cluster:

* **Many files** (``upsamp batch``): :class:`ClusterRunner` is a :data:`upsamp.batch.TaskRunner`
  that runs each file as one task (:func:`run_file_on_worker`, which calls the same per-file
  function as the local worker processes). Planning, ``--skip-existing``, the order of the
  results, progress, the summary, ``--json``, the clean-up and the exit codes are those of
  :func:`upsamp.batch.run_batch`, unchanged.
* **One big image** (``upsamp enlarge``): :func:`cluster_compute` splits the output rows into
  chunks and computes each chunk on a worker from the input, which is sent to every worker once
  (``client.scatter(..., broadcast=True)``). Every built-in method computes any band of output
  rows exactly as those rows of the whole result (``rows=(start, stop)``; the band already takes
  in the input rows, the halo, it needs), so the assembled result is identical to the
  single-machine one. :func:`upsamp.pipeline.enlarge_file` loads, checks and writes here.

Paths
-----
The workers open the inputs and write the outputs themselves, by the paths this machine sees:
the folders must be on a file system that every worker mounts at the same place. A worker that
cannot open an input reports that file as failed, saying so.

Safety
------
Outputs are written atomically by the worker (a hidden temporary file, then a rename). A worker
that dies mid-file leaves at most such a temporary file, which :func:`upsamp.batch.run_batch`
removes at the end of the run; the scheduler gives the file to another worker (a file whose
workers keep dying, ``distributed.scheduler.allowed-failures`` times, is reported failed).
Ctrl-C cancels the tasks and closes the connection, and a cluster started here
(``--scheduler local``) is shut down before the temporary files are swept.
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ClusterError, ParameterError
from .threads import THREADS_VARIABLE

if TYPE_CHECKING:  # numpy, Pillow and Dask load when the work starts
    import numpy as np
    from distributed import Client

    from .batch import BatchTask, FileResult
    from .imageio import LoadedImage
    from .pipeline import Compute, EnlargeOutcome, EnlargeSettings

__all__ = [
    "LOCAL",
    "Cluster",
    "ClusterError",
    "ClusterRunner",
    "chunk_bounds",
    "check_scheduler",
    "cluster_compute",
    "default_chunk_rows",
    "distributed_arrays",
    "distributed_storage",
    "enlarge_on_cluster",
    "run_file_on_worker",
]

#: The ``--scheduler`` value that starts a cluster on this machine.
LOCAL = "local"

#: Largest chunk of one big image, in output values (the stored rows travel back as one message).
CHUNK_VALUES = 1 << 24

#: Chunks per worker thread when the chunk size is chosen here (some slack for uneven workers).
CHUNKS_PER_THREAD = 4

#: Seconds a known worker-thread count is trusted before the scheduler is asked again.
_THREADS_TTL = 2.0

#: Tells a worker in this very process (an in-process cluster) from one elsewhere.
_PROCESS_TOKEN = uuid.uuid4().hex

_ADDRESS = re.compile(
    r"(?:(?:tcp|tls|ucx|ws|wss|inproc)://)?"  # the protocol; Dask assumes tcp without one
    r"(?:\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+)"  # a host name, an IPv4 address or a [IPv6] one
    r"(?::\d{1,5})?"
)


_PORT = re.compile(r":\d{1,5}$")

#: Seconds to wait for the scheduler to answer, and for a worker when the cluster has none
#: (``--scheduler-timeout``).
DEFAULT_TIMEOUT = 10.0


def check_scheduler(text: str) -> str:
    """Return a valid ``--scheduler`` value: ``local`` or a scheduler address.

    >>> check_scheduler("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    >>> check_scheduler("LOCAL")
    'local'
    >>> check_scheduler("tcp://10.0.0.5")
    Traceback (most recent call last):
    ...
    upsamp.errors.ParameterError: 'tcp://10.0.0.5' has no port: give the scheduler's, e.g. \
tcp://host:8786
    >>> check_scheduler("http://host/")
    Traceback (most recent call last):
    ...
    upsamp.errors.ParameterError: 'http://host/' is not 'local' or a scheduler address \
such as tcp://host:8786
    """
    value = text.strip()
    if value.lower() == LOCAL:
        return LOCAL
    if not _ADDRESS.fullmatch(value):
        raise ParameterError(
            f"{text!r} is not 'local' or a scheduler address such as tcp://host:8786"
        )
    if not value.startswith("inproc://") and not _PORT.search(value):
        raise ParameterError(
            f"{text!r} has no port: give the scheduler's, e.g. tcp://host:8786"
        )
    return value


def _import_distributed() -> Any:
    """``distributed``, or a ClusterError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(
            f"--scheduler needs Dask's distributed scheduler, which cannot be imported ({exc}); "
            "install it with: pip install 'upsamp[distributed]'"
        ) from None
    return distributed


# --------------------------------------------------------------------------------------------
# The connection
# --------------------------------------------------------------------------------------------


class Cluster:
    """A connection to a Dask scheduler, opened and closed as a context manager.

    Parameters
    ----------
    scheduler : str
        A scheduler address (``tcp://host:8786``), or ``"local"`` to start a ``LocalCluster``
        here: ``n_workers`` processes of one thread each, on 127.0.0.1, without dashboard.
    n_workers : int, optional
        Workers of a local cluster [default: the CPUs]; each may use ``cpus // n_workers``
        threads for one image (as ``upsamp batch --jobs``). Ignored for an address.
    timeout : float, optional
        Seconds to wait for the scheduler to answer (connection and handshake), and for a
        worker when the cluster has none [default: :data:`DEFAULT_TIMEOUT`, 10 s].

    Examples
    --------
    >>> with Cluster("local", n_workers=2) as cluster:  # doctest: +SKIP
    ...     report = run_batch(plan, runner=ClusterRunner(cluster))
    """

    def __init__(
        self, scheduler: str, *, n_workers: int | None = None, timeout: float | None = None
    ) -> None:
        self.scheduler = check_scheduler(scheduler)
        self.n_workers = n_workers
        self.timeout = timeout
        self._client: Client | None = None
        self._local: Any = None
        self._threads = (0, -math.inf)  # (count, when)

    def __enter__(self) -> Cluster:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def is_local(self) -> bool:
        """True for a cluster started here."""
        return self.scheduler == LOCAL

    @property
    def client(self) -> Client:
        """The Dask client (after :meth:`open`)."""
        if self._client is None:
            raise ClusterError("the cluster connection is not open")
        return self._client

    def open(self) -> None:
        """Connect (starting the local cluster first for ``"local"``)."""
        distributed = _import_distributed()
        kwargs: dict[str, Any] = {
            "set_as_default": False,
            "timeout": DEFAULT_TIMEOUT if self.timeout is None else self.timeout,
        }
        try:
            if self.is_local:
                self._local = self._start_local(distributed)
                self._client = distributed.Client(self._local, **kwargs)
                self._client.wait_for_workers(len(self._local.workers), timeout=120)
            else:
                _check_reachable(self.scheduler, self.timeout)
                self._client = distributed.Client(self.scheduler, **kwargs)
        except BaseException as exc:
            self.close()
            if isinstance(exc, (OSError, TimeoutError)):
                what = (
                    "start a local Dask cluster"
                    if self.is_local
                    else f"reach the Dask scheduler at {self.scheduler}"
                )
                raise ClusterError(f"cannot {what}: {' '.join(str(exc).split())}") from None
            raise

    def _start_local(self, distributed: Any) -> Any:
        from .batch import default_jobs, threads_per_worker

        n_workers = self.n_workers or default_jobs()
        return distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # No dashboard; the scheduler's small HTTP server (health checks) on a free
            # loopback port rather than on 8787, which another cluster may hold.
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
            env={THREADS_VARIABLE: str(threads_per_worker(n_workers))},
            preload=[__name__],  # dask_setup below: the workers leave Ctrl-C to this process
        )

    def close(self) -> None:
        """Close the client and stop a cluster started here (its workers are terminated);
        safe to call twice."""
        client, self._client = self._client, None
        local, self._local = self._local, None
        if client is not None:
            try:
                client.close(timeout=10)
            except Exception:  # closing after a lost connection must not hide the real error
                pass
        if local is not None:
            try:
                local.close(timeout=20)
            except Exception:
                pass

    def threads(self) -> int:
        """Worker threads connected now (asked again at most every two seconds)."""
        count, when = self._threads
        now = time.monotonic()
        if now - when > _THREADS_TTL:
            count = sum(self.client.nthreads().values())
            self._threads = (count, now)
        return count

    def describe(self) -> str:
        """``local Dask cluster`` or ``Dask scheduler <address>``, for messages."""
        return "local Dask cluster" if self.is_local else f"Dask scheduler {self.scheduler}"


def _check_reachable(address: str, timeout: float | None) -> None:
    """Open one connection to ``address`` and close it, within ``timeout`` seconds in all
    (connection and Dask's handshake): a listener that never answers would otherwise hold
    ``distributed.Client`` for ever. TLS uses Dask's security settings (``distributed.comm.tls``),
    as the client does.

    Raises
    ------
    ClusterError
        No answer in time, the connection was refused, or TLS is not configured.
    """
    import asyncio

    from distributed.comm import connect
    from distributed.security import Security

    seconds = DEFAULT_TIMEOUT if timeout is None else timeout

    async def attempt() -> None:
        comm = await connect(
            address, timeout=seconds, **Security().get_connection_args("client")
        )
        await comm.close()

    where = f"cannot reach the Dask scheduler at {address}"
    try:
        asyncio.run(asyncio.wait_for(attempt(), seconds))
    except TimeoutError:
        raise ClusterError(
            f"{where}: no answer within {seconds:g} s (--scheduler-timeout)"
        ) from None
    except TypeError as exc:
        if address.startswith("tls://"):
            raise ClusterError(
                f"{where}: TLS is not configured; set Dask's distributed.comm.tls settings "
                "(ca-file, client.cert, client.key) as the README shows"
            ) from None
        raise ClusterError(f"{where}: {' '.join(str(exc).split())}") from None
    except (OSError, ValueError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(f"{where}: {text}") from None


def dask_setup(worker: Any) -> None:
    """Preload hook of the workers of ``--scheduler local``: they ignore SIGINT, as the local
    worker processes do, so that a Ctrl-C in the terminal (which signals the whole process
    group) reaches this process only and it shuts the cluster down in order."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


# --------------------------------------------------------------------------------------------
# Many files: one task per file
# --------------------------------------------------------------------------------------------


def _limit_image_threads(client_token: str) -> None:
    """One engine thread per task on a worker, unless its environment sets UPSAMP_THREADS: a
    Dask worker runs one task per thread, so the threads together use each core once. (A
    worker inside the client's own process shares its settings and is left alone.)"""
    if client_token != _PROCESS_TOKEN:
        os.environ.setdefault(THREADS_VARIABLE, "1")


def run_file_on_worker(task: BatchTask, client_token: str = "") -> FileResult:
    """Enlarge one file on a Dask worker with the per-file function of the local worker
    processes, after checking that this worker can read the input; never raises for a problem
    with the file."""
    from .batch import FAILED, FileResult, run_task

    _limit_image_threads(client_token)
    try:
        with open(task.input, "rb"):
            pass
    except OSError as exc:
        reason = (
            f"the Dask worker on {socket.gethostname()} cannot read it "
            f"({exc.strerror or exc}); the workers must see the same paths (a shared file system)"
        )
        return FileResult(task.index, task.input, task.output, FAILED, reason, task.input_shape)
    return run_task(task)


def _lost(task: BatchTask, reason: str) -> FileResult:
    from .batch import FAILED, FileResult

    return FileResult(task.index, task.input, task.output, FAILED, reason, task.input_shape)


class ClusterRunner:
    """Runs the files of :func:`upsamp.batch.run_batch` as tasks on a Dask cluster.

    At most one file per worker thread (and at most ``max_in_flight``) is handed out at a
    time, as the local worker pool does, so ``--fail-fast`` and Ctrl-C leave nothing queued
    and a cluster that grows gets more files at once. A task that raises is retried
    ``retries`` times; a task whose worker dies is given to another worker by the scheduler,
    and reported failed when its workers died ``distributed.scheduler.allowed-failures``
    times.

    On Ctrl-C (KeyboardInterrupt) the tasks are cancelled and ``cluster`` is closed (a local
    cluster's workers are terminated) before the interruption goes on to ``run_batch``,
    which then removes the temporary files left behind. Tasks already running on the workers
    of a remote cluster cannot be stopped: they finish their file (atomically) on their own.
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        max_in_flight: int | None = None,
        retries: int = 1,
        no_workers_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.cluster = cluster
        self.max_in_flight = max_in_flight
        self.retries = retries
        self.no_workers_timeout = no_workers_timeout

    def window(self) -> int:
        """Files handed out at once: the worker threads (at least one), capped by
        ``max_in_flight``."""
        size = max(1, self.cluster.threads())
        return min(size, self.max_in_flight) if self.max_in_flight else size

    def __call__(
        self,
        tasks: Sequence[BatchTask],
        fail_fast: bool,
        report: Callable[[FileResult], None],
    ) -> bool:
        distributed = _import_distributed()
        from .batch import FAILED, signals_held

        client = self.cluster.client
        queue = deque(tasks)
        in_flight: dict[Any, BatchTask] = {}
        completed = distributed.as_completed(loop=client.loop)
        run_id = uuid.uuid4().hex[:8]
        stopped = False
        workerless_since: float | None = None
        try:
            while queue or in_flight:
                while queue and not stopped and len(in_flight) < self.window():
                    task = queue.popleft()
                    future = client.submit(
                        run_file_on_worker,
                        _absolute(task),
                        _PROCESS_TOKEN,
                        key=f"upsamp-file-{run_id}-{task.index}",
                        retries=self.retries,
                    )
                    in_flight[future] = task
                    completed.add(future)
                if not in_flight:
                    break
                if not completed.has_ready():
                    time.sleep(_POLL_SECONDS)
                    if not completed.has_ready():
                        workerless_since = self._check_workers(workerless_since)
                        continue
                workerless_since = None
                for future in completed.next_batch(block=False):
                    task = in_flight.pop(future)
                    result = self._result(future, task, distributed)
                    future.release()
                    report(result)
                    if fail_fast and result.status == FAILED:
                        stopped = True
        except KeyboardInterrupt:
            with signals_held():
                try:
                    client.cancel(list(in_flight), force=True)
                except Exception:  # the connection may be gone already
                    pass
                self.cluster.close()
            raise
        except ClusterError:
            self._cancel(client, in_flight)
            raise
        except Exception as exc:
            lost = _connection_lost(client, exc)
            if lost is None:
                raise
            raise ClusterError(
                f"{lost}; the outputs written so far are complete: run again with "
                "--skip-existing to finish"
            ) from None
        return stopped

    def _check_workers(self, since: float | None) -> float | None:
        """While files are in progress and nothing finishes: when the cluster has had no
        worker for ``no_workers_timeout`` seconds, give up (it would wait for ever)."""
        if self.cluster.threads() > 0:
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since >= self.no_workers_timeout:
            raise ClusterError(
                f"the {self.cluster.describe()} has had no workers for "
                f"{self.no_workers_timeout:g} s (--scheduler-timeout); the outputs written so "
                "far are complete: run again with --skip-existing to finish"
            )
        return since

    @staticmethod
    def _cancel(client: Client, in_flight: dict[Any, BatchTask]) -> None:
        try:
            client.cancel(list(in_flight), force=True)
        except Exception:  # the connection may be gone already
            pass

    @staticmethod
    def _result(future: Any, task: BatchTask, distributed: Any) -> FileResult:
        try:
            result = future.result()
        except distributed.KilledWorker:
            return _lost(
                task,
                "the Dask workers enlarging this file died each time (killed, or out of memory?)",
            )
        except Exception as exc:  # a result that could not be sent back...
            if _connection_lost(future.client, exc) is not None:
                raise  # the whole run stops, not this file
            text = " ".join(str(exc).split()) or "no details"
            return _lost(task, f"Dask could not run this file: {type(exc).__name__}: {text}")
        return _checked_result(result, task)


#: Seconds between two looks at a batch's tasks on the cluster (and at its workers).
_POLL_SECONDS = 0.05


def _absolute(task: BatchTask) -> BatchTask:
    """``task`` with every path made absolute here: a worker resolves a relative path against
    its own working folder, and would read (and write) other files of the same names."""
    settings = task.settings
    if settings is not None:
        settings = replace(
            settings,
            indices_file=None if settings.indices_file is None else _abs(settings.indices_file),
            guide_file=None if settings.guide_file is None else _abs(settings.guide_file),
        )
    return replace(task, input=_abs(task.input), output=_abs(task.output), settings=settings)


def _abs(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _checked_result(result: Any, task: BatchTask) -> FileResult:
    """A worker's result for ``task``, checked, with the paths as the plan names them; anything
    else (a rogue or broken worker) makes the file failed."""
    from .batch import FAILED, OK, SKIPPED, FileResult

    def shape_ok(shape: Any) -> bool:
        return shape is None or (
            isinstance(shape, tuple)
            and 2 <= len(shape) <= 3
            and all(isinstance(v, int) and v >= 0 for v in shape)
        )

    valid = (
        type(result) is FileResult
        and result.index == task.index
        and result.status in (OK, SKIPPED, FAILED)
        and (result.reason is None or isinstance(result.reason, str))
        and shape_ok(result.input_shape)
        and shape_ok(result.output_shape)
        and isinstance(result.seconds, (int, float))
    )
    if not valid:
        return _lost(
            task,
            f"the Dask worker returned a malformed result ({type(result).__name__}); "
            "is every worker running this version of upsamp?",
        )
    return replace(result, input=task.input, output=task.output)


def _connection_lost(client: Client, exc: BaseException) -> str | None:
    """What to say when ``exc`` came from losing the scheduler (the client is no longer
    running: Dask gave up reconnecting), else None."""
    if getattr(client, "status", "running") == "running":
        return None
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"lost the connection to the Dask scheduler ({text})"


# --------------------------------------------------------------------------------------------
# One big image: chunks of output rows
# --------------------------------------------------------------------------------------------


def chunk_bounds(height: int, chunk_rows: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` chunks of ``chunk_rows`` output rows covering ``height``.

    >>> chunk_bounds(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    if chunk_rows < 1:
        raise ParameterError(f"chunk_rows must be at least 1, got {chunk_rows}")
    return [(start, min(start + chunk_rows, height)) for start in range(0, height, chunk_rows)]


def default_chunk_rows(out_shape: tuple[int, ...], threads: int) -> int:
    """Rows per chunk: :data:`CHUNKS_PER_THREAD` chunks for each worker thread, each of at
    most :data:`CHUNK_VALUES` output values, at least one row.

    >>> default_chunk_rows((1000, 800, 3), threads=4)
    63
    """
    height, width = int(out_shape[0]), int(out_shape[1])
    channels = int(out_shape[2]) if len(out_shape) > 2 else 1
    by_threads = math.ceil(height / (CHUNKS_PER_THREAD * max(1, threads)))
    by_size = CHUNK_VALUES // max(1, width * channels)
    return max(1, min(by_threads, by_size))


def _storage_rows(
    image: LoadedImage,
    settings: EnlargeSettings,
    rows: tuple[int, int],
    mode: str,
    span: tuple[float, float] | None,
    client_token: str,
) -> tuple[np.ndarray, float]:
    from .pipeline import enlarge_to_storage

    _limit_image_threads(client_token)
    return enlarge_to_storage(image, settings, mode, rows=rows, value_span=span)


def _span_rows(
    image: LoadedImage, settings: EnlargeSettings, rows: tuple[int, int], client_token: str
) -> tuple[float, float] | None:
    from .pipeline import result_span

    _limit_image_threads(client_token)
    return result_span(image, settings, rows=rows)


def _float_rows(
    image: LoadedImage, settings: EnlargeSettings, rows: tuple[int, int], client_token: str
) -> tuple[np.ndarray, np.ndarray | None]:
    import numpy as np

    from .pipeline import iter_bands

    _limit_image_threads(client_token)
    bands = list(iter_bands(image, settings, rows=rows))
    colour = np.concatenate([b[2] for b in bands])
    alpha = None if bands[0][3] is None else np.concatenate([b[3] for b in bands])
    return colour, alpha


def _plan_chunks(
    image: LoadedImage, settings: EnlargeSettings, client: Client, chunk_rows: int | None
) -> tuple[EnlargeSettings, list[tuple[int, int]]]:
    """The settings made concrete for ``image`` and the chunks of output rows (the last one
    ends at the output's height)."""
    from .methods import get_method
    from .pipeline import output_shape, prepare

    settings = prepare(image, settings)
    shape = output_shape(image.shape, settings)
    if not get_method(settings.method).supports_rows:
        return settings, [(0, shape[0])]  # a method that can only compute everything at once
    if chunk_rows is None:
        chunk_rows = default_chunk_rows(shape, sum(client.nthreads().values()))
    return settings, chunk_bounds(shape[0], chunk_rows)


def _map_rows(
    client: Client,
    function: Callable[..., Any],
    image: LoadedImage,
    settings: EnlargeSettings,
    bounds: list[tuple[int, int]],
    extra: tuple[Any, ...],
    consume: Callable[[tuple[int, int], Any], None],
) -> None:
    """Run ``function(image, settings, rows, *extra, client_token)`` on the cluster for each
    chunk, ``image`` and ``settings`` sent to every worker once, and hand each result to
    ``consume`` as it arrives; cancel what is left on any error or interruption."""
    distributed = _import_distributed()
    # The metadata stays here: it is written with the output, and workers need the pixels only.
    shared_image = client.scatter(replace(image, info={}), broadcast=True, hash=False)
    shared_settings = client.scatter(settings, broadcast=True, hash=False)
    name = f"upsamp-rows-{uuid.uuid4().hex[:8]}"
    futures = {
        client.submit(
            function,
            shared_image,
            shared_settings,
            rows,
            *extra,
            _PROCESS_TOKEN,
            key=f"{name}-{rows[0]}",
            retries=1,
        ): rows
        for rows in bounds
    }
    try:
        for future in distributed.as_completed(list(futures), loop=client.loop):
            rows = futures.pop(future)
            try:
                value = future.result()
            except distributed.KilledWorker:
                raise ClusterError(
                    f"the Dask workers computing output rows {rows[0]}-{rows[1]} died each time "
                    "(killed, or out of memory? try smaller chunks)"
                ) from None
            future.release()
            consume(rows, value)
    except Exception as exc:
        lost = _connection_lost(client, exc)
        if lost is None:
            raise
        raise ClusterError(lost) from None
    finally:
        if futures:
            try:
                client.cancel(list(futures), force=True)
            except Exception:  # the connection may be gone; the original error matters
                pass
        shared_image.release()
        shared_settings.release()


def distributed_storage(
    image: LoadedImage,
    settings: EnlargeSettings,
    mode: str,
    client: Client,
    *,
    chunk_rows: int | None = None,
) -> tuple[np.ndarray, float]:
    """:func:`upsamp.pipeline.enlarge_to_storage` computed on a Dask cluster, chunk by chunk.

    Parameters
    ----------
    image : upsamp.imageio.LoadedImage
        The input; its pixels are sent to every worker once.
    settings : upsamp.pipeline.EnlargeSettings
        As for ``enlarge_to_storage`` (made concrete with :func:`upsamp.pipeline.prepare` here:
        max-unpool positions are read once, on this machine).
    mode : str
        The Pillow mode of the output.
    client : distributed.Client
        The cluster.
    chunk_rows : int, optional
        Output rows per task [default: :func:`default_chunk_rows`]. Methods without row
        support are computed as one task.

    Returns
    -------
    stored : numpy.ndarray
        Identical to ``enlarge_to_storage(image, settings, mode)[0]``.
    clipped_fraction : float
        The fraction of colour values clipped (equal to the local one up to rounding).

    Notes
    -----
    With ``range_mode="rescale"`` a first round of tasks finds the lowest and highest value of
    every chunk, and the second one maps all chunks with the span of the whole result.
    """
    import numpy as np

    settings, bounds = _plan_chunks(image, settings, client, chunk_rows)
    span = None
    if settings.range_mode == "rescale":
        spans: list[tuple[float, float]] = []
        _map_rows(
            client,
            _span_rows,
            image,
            settings,
            bounds,
            (),
            lambda rows, found: spans.append(found) if found is not None else None,
        )
        if spans:
            span = (min(s[0] for s in spans), max(s[1] for s in spans))
    height = bounds[-1][1]
    from .imageio import split_mode

    has_alpha = split_mode(mode)[1]
    parts: dict[str, Any] = {"stored": None, "clipped": 0.0, "total": 0}

    width = _output_width(image, settings)

    def consume(rows: tuple[int, int], value: tuple[np.ndarray, float]) -> None:
        _check_chunk(value, rows, width, (float, int, np.floating))
        chunk, fraction = value
        if parts["stored"] is None:
            parts["stored"] = np.empty((height, *chunk.shape[1:]), dtype=chunk.dtype)
        parts["stored"][rows[0] : rows[1]] = chunk
        colour_values = chunk.size - (chunk.shape[0] * chunk.shape[1] if has_alpha else 0)
        parts["clipped"] += fraction * colour_values
        parts["total"] += colour_values

    _map_rows(client, _storage_rows, image, settings, bounds, (mode, span), consume)
    total = parts["total"]
    return parts["stored"], (parts["clipped"] / total if total else 0.0)


def distributed_arrays(
    image: LoadedImage,
    settings: EnlargeSettings,
    client: Client,
    *,
    chunk_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`upsamp.pipeline.enlarge_image` (the float colour result and alpha plane, for a
    ``.npy`` output or ``--show``/``--report``) computed on a Dask cluster, chunk by chunk;
    identical to the local result."""
    import numpy as np

    settings, bounds = _plan_chunks(image, settings, client, chunk_rows)
    height = bounds[-1][1]
    parts: dict[str, Any] = {"colour": None, "alpha": None}

    width = _output_width(image, settings)

    def consume(rows: tuple[int, int], value: tuple[np.ndarray, np.ndarray | None]) -> None:
        _check_chunk(value, rows, width, (np.ndarray, type(None)))
        colour, alpha = value
        if alpha is not None:
            _check_chunk((alpha, None), rows, width, type(None))
        if parts["colour"] is None:
            parts["colour"] = np.empty((height, *colour.shape[1:]), dtype=colour.dtype)
            if alpha is not None:
                parts["alpha"] = np.empty((height, *alpha.shape[1:]), dtype=alpha.dtype)
        parts["colour"][rows[0] : rows[1]] = colour
        if alpha is not None:
            parts["alpha"][rows[0] : rows[1]] = alpha

    _map_rows(client, _float_rows, image, settings, bounds, (), consume)
    return parts["colour"], parts["alpha"]


def _output_width(image: LoadedImage, settings: EnlargeSettings) -> int:
    from .pipeline import output_shape

    return int(output_shape(image.shape, settings)[1])


def _check_chunk(
    value: Any, rows: tuple[int, int], width: int, second: type | tuple[type, ...]
) -> None:
    """Refuse a worker's chunk that is not ``(array of rows × width [× channels], second)``:
    a broken or rogue worker must not crash the client or make it allocate at will."""
    import numpy as np

    chunk = value[0] if isinstance(value, tuple) and len(value) == 2 else None
    valid = (
        isinstance(chunk, np.ndarray)
        and isinstance(value[1], second)
        and chunk.ndim in (2, 3)
        and chunk.shape[:2] == (rows[1] - rows[0], width)
        and (chunk.ndim == 2 or chunk.shape[2] <= 4)
        and chunk.dtype.kind in "uif"
    )
    if not valid:
        raise ClusterError(
            f"a Dask worker returned a malformed result for output rows {rows[0]}-{rows[1]} "
            f"(is every worker running this version of upsamp?)"
        )


def _client_bytes(input_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """Memory this machine needs when the workers compute: the input and the gathered output
    (at most four bytes a value each); the float work happens on the workers."""
    return 4 * (math.prod(input_shape) + math.prod(out_shape))


def cluster_compute(client: Client, *, chunk_rows: int | None = None) -> Compute:
    """A :class:`upsamp.pipeline.Compute` that computes on the cluster of ``client``, for
    :func:`upsamp.pipeline.enlarge_file`."""
    from functools import partial

    from .pipeline import Compute

    return Compute(
        storage=partial(distributed_storage, client=client, chunk_rows=chunk_rows),
        arrays=partial(distributed_arrays, client=client, chunk_rows=chunk_rows),
        working_bytes=_client_bytes,
    )


def enlarge_on_cluster(
    input_path: str | Path,
    output_path: str | Path | None,
    settings: EnlargeSettings,
    client: Client,
    *,
    chunk_rows: int | None = None,
    keep_arrays: bool = False,
) -> EnlargeOutcome:
    """:func:`upsamp.pipeline.enlarge_file` with the enlargement computed on a Dask cluster:
    the file is read and the output written atomically here, and the output file is
    byte-identical to the one ``enlarge_file`` writes alone."""
    from .pipeline import enlarge_file

    return enlarge_file(
        input_path,
        output_path,
        settings,
        keep_arrays=keep_arrays,
        compute=cluster_compute(client, chunk_rows=chunk_rows),
    )
