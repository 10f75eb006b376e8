"""Exit codes of the command line: one per class of expected failure, and its one-line message.

| code | failure |
| --- | --- |
| 0 | success |
| 1 | an unexpected error (a bug): Python's traceback is kept |
| 2 | invalid parameters |
| 3 | invalid or incomplete real data (``DataError``) |
| 4 | a precision or device setting this machine cannot run (``PrecisionError``, ``DistributeError``) |
| 5 | the quality gate refused the samples (``GateFailed``); nothing was published |
| 6 | training failed (``TrainingError``: diverged twice, unusable run directory) |
| 7 | publishing or verifying a version failed (``PublishError``, a missing version) |
| 8 | the disk is full (``ENOSPC`` or a quota anywhere in the cause chain), at any stage |

The classes are looked up in ``sys.modules`` by name, so classifying an error never imports
TensorFlow: an exception can only be an instance of a class whose module is already loaded.
"""

from __future__ import annotations

import errno
import logging
import sys

# (module, class name, exit code); the first match wins, so subclasses go first.
_EXPECTED: tuple[tuple[str, str, int], ...] = (
    ("prefect.exceptions", "ParameterTypeError", 2),
    ("flows.augment", "AugmentParameterError", 2),
    ("flows.evaluate_augmentation", "EvaluateParameterError", 2),
    ("gan_core.data.splits", "DataError", 3),
    ("gan_core.gan.precision", "PrecisionError", 4),
    ("gan_core.gan.distribute", "DistributeError", 4),
    ("gan_core.quality.gate", "GateFailed", 5),
    ("gan_core.gan.run_state", "TrainingError", 6),
    ("gan_core.publish.schema", "PublishError", 7),
)
DISK_FULL = 8
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def exit_code(error: BaseException) -> int | None:
    """The exit code of an expected failure, or None for an unexpected one (a bug)."""
    if any(isinstance(link, OSError) and link.errno in _DISK_FULL_ERRNOS for link in _chain(error)):
        return DISK_FULL
    for module, name, code in _EXPECTED:
        kind = getattr(sys.modules.get(module), name, None)
        if kind is not None and isinstance(error, kind):
            return code
    return None


def one_line(error: BaseException) -> str:
    """The error's message on one line: further lines (e.g. gate checks) joined with '; '."""
    lines = [line.strip().lstrip("- ").strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    head, rest = lines[0], lines[1:]
    return head + (" " + "; ".join(rest) if rest else "")


class _NoExpectedTracebacks(logging.Formatter):
    """Wraps a console formatter so an expected failure's traceback stays off the terminal.

    The record keeps its traceback for every other handler (the Prefect API log gets it).
    """

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None and exit_code(record.exc_info[1]) is not None:
            saved = record.exc_info, record.exc_text
            record.exc_info, record.exc_text = None, None
            try:
                return self.inner.format(record)
            finally:
                record.exc_info, record.exc_text = saved
        return self.inner.format(record)


def quiet_console_tracebacks() -> None:
    """Keeps expected failures' tracebacks out of Prefect's console log handlers."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler) and not isinstance(handler.formatter, _NoExpectedTracebacks):
                handler.setFormatter(_NoExpectedTracebacks(handler.formatter))
