"""User-facing failures: one exception type per kind of failure.

The CLI turns an :class:`AutocolorError` into a single line on stderr and the
exception's ``exit_code``; only ``--debug`` shows a traceback. Library callers
can catch the specific subclasses.
"""

from __future__ import annotations

from pathlib import Path


class AutocolorError(Exception):
    """Base class of every error meant for the user, not for a traceback."""

    exit_code: int = 1


class UsageError(AutocolorError):
    """The command line asks for something impossible (exit code 2, like Click)."""

    exit_code = 2


class InputImageError(AutocolorError):
    """An input image cannot be read or used; the message names the file and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputError(AutocolorError):
    """An output cannot be written (not writable, would overwrite the input, ...)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnknownModelError(AutocolorError):
    """A model name that neither the registry nor weights.toml knows."""

    exit_code = 2


class WeightsError(AutocolorError):
    """Weights are missing, cannot be fetched or do not fit the network."""


class ChecksumMismatchError(WeightsError):
    """A downloaded or imported file does not have the pinned size or sha256."""


class DeviceError(AutocolorError):
    """The requested device (e.g. ``cuda:1``) is not available."""

    exit_code = 2


class MissingExtraError(AutocolorError):
    """An optional feature's packages are not installed; the message names the extra to install."""
