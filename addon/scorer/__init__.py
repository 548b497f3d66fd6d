"""The scorer's model: streaming anomaly detection on the recorded series.

The live service (``vigilante serve``) and ``vigilante backtest`` run the same
:class:`Detector`, one call per tick::

    detector = Detector.fit(config.scorer, training_rows)   # rows: (unix_seconds, {feature: value})
    # or: detector = Detector.load("state.json", config.scorer)
    result = detector.step(timestamp, {"requests_per_second": 12.3, ...})
    result.score, result.threshold, result.decision          # export these three
    result.learned, result.skipped, result.rebaselined       # why it did (not) learn
    result.attribution                                       # {feature: share of the score}, when above
    detector.save("state.json")                              # atomic; StateError on a bad file

What the numbers mean:

- ``score``: for each feature's model, how many times less Half-Space-Trees mass this
  tick has than the rarest 0.1 % of training ticks (``threshold_quantile``); the maximum
  over the models. Normal traffic sits below 1.
- ``threshold``: the ``threshold_quantile`` of the training scores, plus
  ``threshold_margin`` (60 % by default). Fixed after training, exported beside the score.
- ``decision``: 1 once the score has been above the threshold for ``hold_seconds`` (in ticks
  of the series: its rows' median spacing, see :mod:`vigilante.scorer.timing`).

Learning policy (see :mod:`vigilante.scorer.detector`): a gap or an anomalous tick is not
learned and the baselines only coast; other ticks are learned, the baselines following
them by bounded steps. A lasting shift alerts for at most ``relearn_after_seconds``
when its values are steady (twice that otherwise), then becomes the new normal.
"""

from vigilante.scorer.detector import Detector, StepResult
from vigilante.scorer.errors import ScorerError, StateError, TrainingError

__all__ = ["Detector", "StepResult", "ScorerError", "StateError", "TrainingError"]
