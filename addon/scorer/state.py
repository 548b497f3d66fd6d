"""Saving and loading the whole detector, atomically, with a schema version.

The file is one header line of JSON (format, schema version, versions of vigilante and
river, the features, a SHA-256 of the body) followed by the pickled :class:`Detector`.
It is written to a temporary file in the same directory, flushed to disk, then renamed
over the old one, so a crash leaves either the old state or the new one, never half.

Pickle runs code when loaded: a state file is trusted like the configuration is (the
scorer writes it, in its own volume); the checksum catches corruption, not tampering.

    >>> import tempfile, os
    >>> from vigilante.config import ScorerConfig
    >>> from vigilante.scorer import Detector
    >>> d = Detector.fit(ScorerConfig(features=("value",)), [(float(i), {"value": i % 7}) for i in range(100)])
    >>> path = os.path.join(tempfile.mkdtemp(), "state.bin")
    >>> d.save(path)
    >>> Detector.load(path).threshold == d.threshold
    True
    >>> open(path, "ab").write(b"junk")
    4
    >>> Detector.load(path)
    Traceback (most recent call last):
    ...
    vigilante.scorer.errors.StateError: ...: corrupt: the body does not match its checksum
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from typing import TYPE_CHECKING

from vigilante.output_files import atomic_open
from vigilante.scorer.errors import StateError

if TYPE_CHECKING:
    from vigilante.config import ScorerConfig
    from vigilante.scorer.detector import Detector

FORMAT = "vigilante-scorer-state"
SCHEMA_VERSION = 3  # 3: the trees saved as arrays (vigilante.scorer.forest_state)
"""2: windows configured in seconds and counted in the training rows' own spacing."""


MODEL_SETTINGS = ("model_layout", "n_trees", "tree_height", "window_size", "seed", "context_half_lives_seconds",
                  "context_clip", "baseline_half_life_seconds", "trend_half_life_seconds", "baseline_clip",
                  "limit_quantile", "headroom", "threshold_quantile", "threshold_margin", "rise_only_features")
"""Scorer settings baked into a trained model: a saved model made with others is not reused.
(``hold_seconds`` and ``relearn_after_seconds`` are decision knobs, taken from the configuration.)"""


def _versions() -> dict[str, str]:
    import river

    from vigilante import __version__

    return {"vigilante": __version__, "river": river.__version__}


def save_state(detector: "Detector", path: str | os.PathLike) -> None:
    """Write ``detector`` to ``path`` atomically (temporary file, fsync, rename).

    Raises :class:`~vigilante.output_files.OutputError` when ``path`` cannot be written.
    """
    body = pickle.dumps(detector, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        **_versions(),
        "features": list(detector.features),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    with atomic_open(path, "wb", fsync=True) as fh:
        fh.write(json.dumps(header, sort_keys=True).encode() + b"\n")
        fh.write(body)


def load_state(path: str | os.PathLike, config: "ScorerConfig | None" = None) -> "Detector":
    """Read a detector saved by :func:`save_state`.

    Raises :class:`StateError` (one clear sentence, naming the file) when it is missing,
    not a state file, corrupt, of another schema version, or reads other features than
    ``config`` names. With ``config``, its decision knobs (hold, relearning) apply.
    """
    from vigilante.scorer.detector import Detector

    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            first = fh.readline(64 * 1024)
            body = fh.read()
    except OSError as exc:
        raise StateError(f"{path}: cannot read the scorer state: {exc.strerror}") from exc
    try:
        header = json.loads(first)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError
    except ValueError:
        raise StateError(f"{path}: not a vigilante scorer state file") from None
    version = header.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateError(
            f"{path}: state schema version {version}, this vigilante reads version {SCHEMA_VERSION}: "
            "train a new model with `vigilante train`"
        )
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise StateError(f"{path}: corrupt: the body does not match its checksum")
    try:
        detector = pickle.loads(body)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same to the user
        saved, now = header.get("river"), _versions()["river"]
        hint = f" (saved with river {saved}, running river {now})" if saved != now else ""
        raise StateError(f"{path}: cannot restore the model{hint}: {exc}") from exc
    if not isinstance(detector, Detector):
        raise StateError(f"{path}: the state holds a {type(detector).__name__}, not a Detector")
    if config is not None:
        if tuple(config.features) != detector.features:
            raise StateError(
                f"{path}: the model was trained on features {list(detector.features)}, "
                f"the configuration names {list(config.features)}: retrain with `vigilante train`"
            )
        changed = [f"{name} {getattr(detector.config, name)!r} -> {getattr(config, name)!r}"
                   for name in MODEL_SETTINGS if getattr(detector.config, name) != getattr(config, name)]
        if changed:
            raise StateError(f"{path}: the model was trained with other settings ({'; '.join(changed)}): "
                             "retrain with `vigilante train`, or let the scorer bootstrap")
        spacing = detector.ticks.spacing_seconds
        if abs(spacing - config.tick_seconds) > 0.01 * config.tick_seconds:
            raise StateError(f"{path}: the model was trained on rows {spacing:g} s apart and the scorer ticks every "
                             f"{config.tick_seconds:g} s (scorer.tick_seconds): its windows would be off by "
                             f"{config.tick_seconds / spacing:.3g}x; retrain at that interval, or let the scorer bootstrap")
        detector.replace_config(config)
    return detector
