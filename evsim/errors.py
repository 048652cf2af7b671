"""evsim's exceptions: bad input is a :class:`ValidationError` naming the parameter.

``ValidationError`` is also a ``ValueError``, so code written against the ValueErrors that
evsim raised before keeps working. The command line turns a ValidationError (and only that)
into one line and exit status 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["EvsimError", "ValidationError", "UnsupportedRun"]


class EvsimError(Exception):
    """Base class of the errors evsim raises on purpose."""


class ValidationError(EvsimError, ValueError):
    """Bad input: ``parameter`` names what was wrong, the message says the accepted range."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


class UnsupportedRun(ValidationError):
    """The backend named by ``target`` cannot run this circuit: the message says why and which
    backends can (a claim may then run that part elsewhere, see
    :meth:`analyses.claims.base.ClaimContext.on_target_or`)."""

    def __init__(self, message: str):
        super().__init__("target", message)
