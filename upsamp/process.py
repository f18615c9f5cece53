"""Process-level safety shared by the command line and the worker processes.

* :func:`sigterm_as_keyboard_interrupt`: the one signal handler. SIGTERM raises
  KeyboardInterrupt in the main thread, so a terminated run goes through the same clean-up as
  Ctrl-C (temporary files removed, exit 130).
* :func:`signals_deferred`: SIGINT and SIGTERM wait until a few statements that belong
  together (create a temporary file, record its name) are done.
* :func:`die_with_parent`: a worker process ends when the process that started it dies, even
  by SIGKILL (``prctl(PR_SET_PDEATHSIG)`` on Linux, and a watch on the parent's id everywhere).
* :func:`standard_streams`: a missing stdout/stderr (``>&-``) is replaced by the null device,
  and a stream whose encoding cannot show the tool's symbols (``×``, ``→``) degrades them to
  ASCII instead of failing.
* :func:`one_line_warnings`: Python warnings (Pillow's corrupt EXIF, numpy overflows) are
  printed as one ``upsamp: warning: ...`` line each.

Only the standard library is used here; nothing in this module prints except the warnings.
"""

from __future__ import annotations

import codecs
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "ASCII_ERRORS",
    "die_with_parent",
    "one_line_warnings",
    "one_line",
    "printable",
    "signals_deferred",
    "sigterm_as_keyboard_interrupt",
    "standard_streams",
]


@contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (as Ctrl-C does),
    so both go through the same clean shutdown. Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM wait (blocked for this thread) and are delivered
    when it ends: for a few statements that must not be cut in two, such as creating a file
    and recording its name for the clean-up. Does nothing where signals cannot be blocked."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        yield
        return
    previous = block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, previous)


# --------------------------------------------------------------------------------------------
# Dying with the parent
# --------------------------------------------------------------------------------------------

#: ``prctl`` option: the signal this process receives when its parent thread ends.
_PR_SET_PDEATHSIG = 1

#: Seconds between two looks at the parent's process id.
PARENT_CHECK_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when ``parent_pid`` (the process that started it) ends.

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``,
    through ctypes); everywhere, a daemon thread checks every :data:`PARENT_CHECK_SECONDS`
    that the parent is still ``parent_pid`` (an orphan is adopted by another process) and ends
    the process at once otherwise. Call it first thing in a worker process.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the watch below still works
            pass
    if os.getppid() != parent_pid:  # the parent died before the kernel was told
        os._exit(1)
    watch = threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="upsamp-parent-watch", daemon=True
    )
    watch.start()


def _watch_parent(parent_pid: int) -> None:
    import time

    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # no clean-up: the files of an abandoned run are left to the next one


# --------------------------------------------------------------------------------------------
# Standard streams
# --------------------------------------------------------------------------------------------

#: Name of the codec error handler that writes the tool's symbols in ASCII.
ASCII_ERRORS = "upsamp-ascii"

#: Symbols the messages and tables use, and their ASCII forms.
_ASCII_FORMS = {
    "×": "x",
    "→": "->",
    "←": "<-",
    "…": "...",
    "·": "*",
    "−": "-",
    "–": "-",
    "—": "-",
    "≤": "<=",
    "≥": ">=",
    "≈": "~",
    "²": "^2",
    "√": "sqrt",
    "σ": "sigma",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
}


def _ascii_replace(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    parts = []
    for char in text:
        form = _ASCII_FORMS.get(char)
        if form is None:
            form = char.encode("ascii", "backslashreplace").decode("ascii")
        parts.append(form)
    return "".join(parts), error.end


codecs.register_error(ASCII_ERRORS, _ascii_replace)


def _degrade_to_ascii(stream: Any) -> None:
    """Let ``stream`` write what its encoding cannot (``×`` on an ASCII terminal) in ASCII."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "×→…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            try:
                reconfigure(errors=ASCII_ERRORS)
            except (ValueError, OSError, LookupError):
                pass


def _null_stream(fd: int) -> Any:
    """A text stream on the null device, put on file descriptor ``fd`` when it is closed (so
    that no file opened later takes that number and receives what is meant for the stream)."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.fstat(fd)
    except OSError:
        os.dup2(null, fd)
        os.close(null)
        null = fd
    return open(null, "w", encoding="utf-8", closefd=null != fd)  # noqa: SIM115


def standard_streams() -> None:
    """Make stdout and stderr safe to write: a missing one (started with ``>&-``) writes to the
    null device, and one that cannot encode the tool's symbols degrades them to ASCII."""
    if sys.stdout is None:
        sys.stdout = _null_stream(1)
    if sys.stderr is None:
        sys.stderr = _null_stream(2)
    for stream in (sys.stdout, sys.stderr):
        _degrade_to_ascii(stream)


def stdout_gone() -> None:
    """After a broken pipe on stdout: point it at the null device, so that nothing (not even
    the interpreter's final flush) writes to the closed pipe again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's buffer)
        pass


# --------------------------------------------------------------------------------------------
# Printable text and one-line warnings
# --------------------------------------------------------------------------------------------

_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


def printable(text: object) -> str:
    """``text`` with its control characters (terminal escape sequences, carriage returns,
    new lines...) written as ``\\xNN``, so that a file name cannot drive the terminal.

    >>> printable("a\\x1b[2Jb.png")
    'a\\\\x1b[2Jb.png'
    """
    return str(text).translate(_CONTROLS)


def one_line(text: object) -> str:
    """``text`` on one line: runs of spaces, tabs and new lines become one space, other control
    characters are escaped (:func:`printable`).

    >>> one_line("bad file\\n  at x\\ry")
    'bad file at x\\\\x0dy'
    """
    return printable(re.sub(r"[ \t\n]+", " ", str(text)).strip())


def _show_one_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    stream = file if file is not None else sys.stderr
    if stream is None:
        return
    text = one_line(message)
    try:
        stream.write(f"upsamp: warning: {text}\n")
        stream.flush()
    except (OSError, ValueError):  # stderr gone: nothing to tell
        pass


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Within the block, each Python warning is printed as one ``upsamp: warning: ...`` line on
    stderr (the usual filters still apply: a warning repeated at one place is shown once)."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_one_line
        yield


def install_one_line_warnings() -> None:
    """For a worker process: every warning it prints is one line, for the rest of its life."""
    warnings.showwarning = _show_one_line
