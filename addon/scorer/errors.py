"""Typed errors of the scorer library.

Every one is a :class:`~vigilante.errors.VigilanteError`, which the command line prints as one line:

    >>> issubclass(NotAStateError, StateError), issubclass(TrainingError, VigilanteError)
    (True, True)
"""

from vigilante.errors import VigilanteError


class ScorerError(VigilanteError):
    """Base class of the scorer's errors."""


class StateError(ScorerError):
    """A saved model cannot be used: missing, corrupt, or from an incompatible version/config."""


class TrainingError(ScorerError):
    """The training rows cannot produce a model (too few, a feature with no value...)."""


class NotAStateError(StateError):
    """The file is not a scorer state at all (or cannot be read): it is never replaced."""
