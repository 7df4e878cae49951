"""The error hierarchy of profilelab.

Every error a user can cause (a bad file, a bad query, a bad store) is a
:class:`ProfileLabError`; the command line turns it into one line on stderr and a
non-zero exit. Messages name the bad value and what was expected, and gain
context as they rise (``reading cpu.pb.gz: truncated gzip stream``).
"""

from __future__ import annotations


class ProfileLabError(Exception):
    """Base class of every error profilelab raises on purpose."""

    def with_context(self, context: str) -> ProfileLabError:
        """Return a copy of this error whose message starts with ``context``."""
        err = type(self)(f"{context}: {self}")
        err.__cause__ = self.__cause__ or self
        return err


class FormatError(ProfileLabError):
    """The input is not in a format profilelab reads, or is damaged."""


class ValidationError(ProfileLabError):
    """The tables break an invariant of the canonical model."""


class QueryError(ProfileLabError):
    """A report option, regex, label selector or SQL query is invalid."""


class StoreError(ProfileLabError):
    """The profile store is missing, damaged or locked."""


class TooLargeError(FormatError):
    """The input, or what it inflates to, is past a size limit (HTTP: 413)."""


class ConfigError(ProfileLabError):
    """A setting (an environment variable such as ``PROFILELAB_MAX_INPUT_BYTES``) is invalid."""
