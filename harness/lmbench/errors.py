"""Exceptions with a one-line message meant for the user.

The CLI prints ``str(error)`` of any :class:`LmbenchError` as a single line on stderr and exits
non-zero; ``--debug`` shows the traceback. Anything else is a bug and is shown with ``--debug``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LmbenchError(Exception):
    """Base class: an error whose message tells the user what to do."""


class UnknownNameError(LmbenchError, KeyError):
    """A component, preset, run or key name that does not exist; the message lists close matches."""

    def __init__(self, what: str, name: str, choices: Iterable[str]):
        self.what, self.name = what, name
        self.choices = sorted(set(choices))
        super().__init__(unknown_message(what, name, self.choices))

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class ConfigError(LmbenchError):
    """A spec that cannot be parsed or validated (bad TOML, bad key, bad value)."""


class PluginError(LmbenchError):
    """A plugin that failed to load, or broke the plugin contract."""


class StoreError(LmbenchError):
    """The results store cannot be opened or written (locked, read-only, corrupt)."""


class CapabilityError(LmbenchError):
    """A component was asked for something it declares it cannot do (e.g. causal LSH)."""


class NonFiniteError(LmbenchError):
    """Training or inference produced NaN/inf. Recorded as the run's result with the step."""

    def __init__(self, what: str, step: int | None, value: float | None = None):
        self.what, self.step, self.value = what, step, value
        at = f" at step {step}" if step is not None else ""
        super().__init__(f"non-finite {what}{at} ({value})")


class DiskFullError(LmbenchError):
    """A file (store, log, checkpoint, report) could not be written because the disk is full."""


class FileFormatError(ConfigError):
    """An input file that cannot be read as what it should be (binary, not UTF-8, bad JSON lines)."""


class RunBusyError(LmbenchError):
    """Another live process holds the run's lease (it is training the same run right now)."""


class LeaseLostError(LmbenchError):
    """This process's lease on a run was taken over (it was paused past the lease, or its store was
    unreachable): its writes are refused and it stops, leaving the run to its new owner."""


class LimitError(ConfigError):
    """A value outside its sane range (a negative count, a batch that cannot fit in memory)."""


class BudgetTooShortError(LmbenchError):
    """A wall-clock budget that cannot fit the work it must do (e.g. one evaluation)."""


def unknown_message(what: str, name: str, choices: Iterable[str]) -> str:
    """``unknown model 'lstn'; did you mean: lm.lstm?`` or the list of valid names."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if not close:  # also match on the short part of qualified names
        shorts = {c.split(".", 1)[-1]: c for c in choices}
        close = [shorts[s] for s in difflib.get_close_matches(name.split(".", 1)[-1], list(shorts), n=3, cutoff=0.5)]
    if close:
        return f"unknown {what} '{name}'; did you mean: {', '.join(close)}?"
    if not choices:
        return f"unknown {what} '{name}'; none are registered (is the plugin installed? try `lmbench plugins`)"
    shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    return f"unknown {what} '{name}'; valid: {shown}"
