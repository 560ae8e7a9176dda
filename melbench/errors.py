"""melbench's small exception hierarchy.

Every error that a user can cause derives from :class:`MelbenchError`, and its
message names the offending value and, where there is one, the fix.
"""

from __future__ import annotations


class MelbenchError(Exception):
    """Base class of every error melbench raises on purpose."""


class ParameterError(MelbenchError, ValueError):
    """A parameter (of a spec, a plugin or a command) has an invalid value."""


class InputError(MelbenchError, ValueError):
    """An input array or file is not what the stage expects (shape, domain, values)."""


class UnknownPluginError(MelbenchError, KeyError):
    """No plugin of that kind and name is registered (the message lists the choices)."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class PluginUnavailableError(MelbenchError, ImportError):
    """A plugin is registered but could not be imported (the message gives the reason)."""


class SkipCell(MelbenchError):
    """Raised by a plugin that declines a setting; recorded as a reason, not a failure."""


# --------------------------------------------------------------------------- warnings
# Defined here (beside the errors) so that every module can import them without a cycle;
# their documented home is :mod:`melbench.validation`, which re-exports them.


class MelbenchWarning(UserWarning):
    """Base class of melbench's warnings (legal but doubtful input)."""


class EmptyMelBandWarning(MelbenchWarning):
    """Some mel bands contain no FFT bin: the filterbank is rank-deficient."""


class MelDomainWarning(MelbenchWarning):
    """The mel's values look like another domain than the spec says."""


class MelLevelWarning(MelbenchWarning):
    """The mel's absolute level is unknown (e.g. a ``ref=np.max`` dB mel): the output's is too."""
