"""The one base of the errors a user can fix: the command line prints them as one line, exit 2.

Each part keeps its own subclass (:class:`~vigilante.config.ConfigError`,
:class:`~vigilante.output_files.OutputError`, :class:`~vigilante.scorer.errors.ScorerError`
and :class:`UserError` for bad command input); :func:`vigilante.cli.main` catches the base.

    >>> from vigilante.config import ConfigError
    >>> issubclass(ConfigError, VigilanteError), issubclass(UserError, VigilanteError)
    (True, True)
"""


class VigilanteError(Exception):
    """A problem the user can fix (bad input, bad config, a file in the way); its text is one line."""


class UserError(VigilanteError):
    """Bad command input (an argument, a file's content) found while running a command."""
