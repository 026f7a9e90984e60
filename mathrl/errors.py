"""The errors a user can fix: the command line prints their message as one line instead of a traceback.

The bottom of the package: it imports nothing of mathrl, so every layer can raise these.
"""


class MathrlError(Exception):
    """A problem the user can fix; the command line prints the message as one line instead of a traceback."""


class ConfigError(MathrlError, ValueError):
    """A configuration value is wrong; the message says which and how to fix it."""


class DataError(MathrlError):
    """Input data is missing or malformed; the message names the file, the line and the problem."""
