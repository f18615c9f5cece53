"""The ``upsamp`` command line: Click commands that parse, call the library and render.

Expected failures (:class:`upsamp.errors.UpsampError`, and operating-system errors such as a full
disk) become one line on stderr and the exit code the error carries; ``--debug`` shows the
traceback instead. Usage errors are one line too (``upsamp: error: --stride: ...``), followed
by ``Try 'upsamp enlarge --help'``, and exit 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from ..errors import ExitCode, UpsampError

__all__ = ["main", "cli"]


#: Sub-commands and where they live; a command's module is imported only when it is used (or
#: when ``upsamp --help`` lists them), so ``upsamp kernels list`` does not load ``batch``.
COMMANDS = {
    "enlarge": "upsamp.cli.enlarge:enlarge",
    "batch": "upsamp.cli.batch:batch",
    "pool": "upsamp.cli.pool:pool",
    "report": "upsamp.cli.report:report",
    "kernels": "upsamp.cli.kernels_cmd:kernels",
    "explain": "upsamp.cli.explain:explain",
    "measure": "upsamp.cli.measure:measure",
}


class OneLineUsageError(click.UsageError):
    """A usage error shown as ``upsamp: error: <message>`` and, when the command is known,
    ``Try '<command> --help'`` (instead of Click's usage line, hint and ``Error:`` line)."""

    def __init__(self, original: click.UsageError) -> None:
        super().__init__(_usage_message(original), original.ctx)

    def show(self, file: Any = None) -> None:
        click.echo(f"upsamp: error: {self.message}", err=True)
        if self.ctx is not None:
            click.echo(f"Try '{self.ctx.command_path} --help'", err=True)


def _usage_message(exc: click.UsageError) -> str:
    """One line: ``--stride: <reason>`` for a bad option value, else Click's message."""
    if isinstance(exc, OneLineUsageError):
        return exc.message
    param = getattr(exc, "param", None)
    if isinstance(exc, click.BadParameter) and not isinstance(exc, click.MissingParameter) and (
        param is not None
    ):
        names = [name for name in param.opts if name.startswith("--")] or param.opts
        label = names[0] if isinstance(param, click.Option) else param.human_readable_name
        text = f"{label}: {exc.message}"
    else:
        text = exc.format_message()
    return " ".join(text.split())


class UpsampGroup(click.Group):
    """A group whose invocation turns expected errors into one-line messages (usage errors
    included: :class:`OneLineUsageError`), and whose sub-commands are imported lazily from
    :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        from importlib import import_module

        module_name, attribute = target.split(":")
        return getattr(import_module(module_name), attribute)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:  # the group's own options
            raise OneLineUsageError(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        from ..process import one_line_warnings, sigterm_as_keyboard_interrupt, standard_streams

        standard_streams()
        try:
            with one_line_warnings(), sigterm_as_keyboard_interrupt():
                try:
                    return super().invoke(ctx)
                finally:
                    _flush_stdout()
        except click.UsageError as exc:  # every sub-command's options and arguments
            raise OneLineUsageError(exc) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # The reader of stdout went away (``upsamp ... | head``): what was printed was
            # wanted, the rest is not; end quietly, as ``ls | head`` does.
            from ..process import stdout_gone

            stdout_gone()
            sys.exit(int(ExitCode.OK))
        except UpsampError as exc:
            if ctx.meta.get("upsamp.debug"):
                raise
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            if ctx.meta.get("upsamp.debug"):
                raise
            fail("interrupted", ExitCode.INTERRUPTED)
        except (OSError, MemoryError) as exc:
            if ctx.meta.get("upsamp.debug"):
                raise
            reason = "out of memory" if isinstance(exc, MemoryError) else _os_message(exc)
            fail(reason, ExitCode.FAILURE)


def _flush_stdout() -> None:
    """Flush stdout here, so that a reader that went away is noticed while the error can still
    be handled (not in the interpreter's final flush)."""
    stream = sys.stdout
    if stream is not None and not getattr(stream, "closed", False):
        stream.flush()


def _os_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    return f"{where}{exc.strerror or exc}"


def fail(message: str, code: int) -> None:
    """Print ``upsamp: error: <message>`` on stderr (one line) and exit with ``code``."""
    from ..process import one_line

    line = one_line(message)
    click.echo(f"upsamp: error: {line}", err=True)
    sys.exit(int(code))


@click.group(cls=UpsampGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(version=__version__, prog_name="upsamp")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Enlarge images with the classic upsampling techniques and see what each one does.

    \b
    Methods: see 'upsamp enlarge --help' (built-in ones and plugins).
    Example: upsamp enlarge photo.png --method transconv --stride 2
    """
    ctx.meta["upsamp.debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="upsamp")
