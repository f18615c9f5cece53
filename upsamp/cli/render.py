"""Rendering for the command line: JSON on stdout, Rich tables and messages on stderr.

stdout carries data only (JSON, arrays shown on request); progress, warnings and errors go to
stderr.

Text is never read as Rich markup: every console is made by :func:`console` with markup off, so a
file named ``a[/y].png`` prints as it is; styles are given with :class:`rich.text.Text`. Control
characters in names are shown escaped (:func:`upsamp.process.printable`).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


#: Arrays up to this size (per side) are printed by ``--show``.
SHOW_LIMIT = 16

#: A terminal said to be narrower than this (``COLUMNS=0``) is taken as FALLBACK_WIDTH wide.
MIN_WIDTH = 20
FALLBACK_WIDTH = 80


def console(**options: Any) -> Any:
    """A Rich console that reads no markup and leaves a broken pipe to the command line's error
    handling (Rich would exit with status 1)."""
    from rich.console import Console

    class QuietConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    made = QuietConsole(markup=False, highlight=False, soft_wrap=True, **options)
    if made.width < MIN_WIDTH:  # COLUMNS=0 (or 3) would squeeze every table to nothing
        made.width = FALLBACK_WIDTH
    return made


def stdout_console() -> Any:
    return console()


def stderr_console() -> Any:
    return console(stderr=True)


def printable(text: object) -> str:
    """``text`` with control characters escaped (see :func:`upsamp.process.printable`)."""
    from ..process import printable as escaped

    return escaped(text)


def print_json(payload: Any) -> None:
    """One JSON document on stdout, one line."""
    sys.stdout.write(json.dumps(payload, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def warn(message: str) -> None:
    """A one-line warning on stderr."""
    from rich.text import Text

    stderr_console().print(Text.assemble(("warning:", "yellow"), " ", printable(message)))


def info(message: str) -> None:
    """A one-line human message on stderr."""
    stderr_console().print(printable(message))


def format_number(value: float) -> str:
    """Shortest readable form: integers without a decimal point, others with up to 4 digits."""
    if value != value:  # NaN
        return "nan"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def array_tables(array: np.ndarray, title: str) -> list[Any]:
    """Rich tables of a small ``(H, W)`` or ``(H, W, C)`` array, one per channel."""
    from rich.table import Table

    from ..geometry import format_size  # with numpy: imported when arrays are shown

    planes = [array] if array.ndim == 2 else [array[:, :, c] for c in range(array.shape[2])]
    tables = []
    for index, plane in enumerate(planes):
        name = title if len(planes) == 1 else f"{title} (channel {index})"
        table = Table(title=f"{name} {format_size(plane.shape)}", show_header=False)
        for _ in range(plane.shape[1]):
            table.add_column(justify="right")
        for row in plane:
            table.add_row(*(format_number(float(v)) for v in row))
        tables.append(table)
    return tables


def wide_console() -> Any:
    """A stdout console that never squeezes a table: arrays print at their natural width
    (a narrow terminal wraps the lines instead of cutting numbers off)."""
    return console(width=10_000)


def show_arrays(named: dict[str, np.ndarray]) -> None:
    """Print small arrays as tables on stdout (data asked for with ``--show``)."""
    from ..geometry import format_size  # with numpy: imported when arrays are shown

    console = wide_console()
    for name, array in named.items():
        if array.shape[0] > SHOW_LIMIT or array.shape[1] > SHOW_LIMIT:
            warn(
                f"{name} is {format_size(array.shape)}: --show prints arrays up to "
                f"{SHOW_LIMIT}×{SHOW_LIMIT} only"
            )
            continue
        for table in array_tables(array, name):
            console.print(table)
