"""Exceptions and exit codes.

Every expected failure raises a subclass of :class:`UpsampError`; the command line turns it into
one line on stderr and the exit code the exception carries. Nothing else in the package decides
exit codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the ``upsamp`` command (documented in the README)."""

    OK = 0
    FAILURE = 1  #: an input could not be processed (bad file, bad kernel, ...)
    USAGE = 2  #: a command-line usage error (Click's own code)
    NOTHING_SUCCEEDED = 3  #: batch: every file failed
    INTERRUPTED = 130  #: Ctrl-C


class UpsampError(Exception):
    """Base class of every error the tool reports as one line."""

    exit_code: ExitCode = ExitCode.FAILURE


class InputError(UpsampError):
    """An input file or array cannot be used (missing, unreadable, not an image, too big...)."""


class KernelError(UpsampError):
    """A kernel (file or preset) is malformed or does not fit the image."""


class ParameterError(UpsampError, ValueError):
    """A numeric parameter is out of range (stride < 1, output_padding >= stride, ...)."""


class EmptyOutputError(ParameterError):
    """The options leave no output for this input (a side of the output size would be 0 or
    negative, e.g. padding larger than the image): a usage error."""

    exit_code = ExitCode.USAGE


class ShrinkingError(ParameterError):
    """A scale below 1 or a size smaller than the input: ``upsamp`` enlarges (shrinking
    needs an antialiasing filter these methods do not have). A usage error."""

    exit_code = ExitCode.USAGE


class OutputError(UpsampError):
    """The output cannot be written (exists already, too large, unknown format...)."""


class ClusterError(UpsampError):
    """The cluster cannot be used: Dask is not installed, the scheduler cannot be reached, or
    the workers computing part of an image died."""


class MethodError(UpsampError, KeyError):
    """An unknown upsampling method or a backend registration conflict."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
