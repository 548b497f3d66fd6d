"""Saving and loading the whole detector, atomically, as plain data that cannot run code.

The file is one header line of JSON (format, schema version, versions of vigilante and
river, the features, a SHA-256 of the rest), then the :class:`Detector` as one line of JSON
and the bytes of its arrays, through :mod:`vigilante.scorer.codec`, which rebuilds only the
scorer's own classes and never calls anything the file names. Loading a state
is as safe as reading a CSV; the checksum catches corruption. A state of schema 3 or older
(a pickle) is refused, never unpickled.

It is written to a temporary file in the same directory (readable by its owner only),
flushed to disk, then renamed over the old one, so a crash leaves either the old state or
the new one, never half. A file at the path that is not a scorer state is never replaced.

    >>> import tempfile, os
    >>> from vigilante.config import ScorerConfig
    >>> from vigilante.scorer import Detector
    >>> d = Detector.fit(ScorerConfig(features=("value",)), [(float(i), {"value": i % 7}) for i in range(100)])
    >>> path = os.path.join(tempfile.mkdtemp(), "state.json")
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
from typing import TYPE_CHECKING, Any

import river

from vigilante.config import ScorerConfig
from vigilante.output_files import OutputError, atomic_open, check_target
from vigilante.scorer.baseline import HoltBaseline
from vigilante.scorer.codec import Codec
from vigilante.scorer.daily_profile import DailyProfile, SeasonalExcess
from vigilante.scorer.errors import NotAStateError, StateError
from vigilante.scorer.quantile_excess import QuantileExcess
from vigilante.scorer.threshold import HoldDecision
from vigilante.scorer.timing import TickScale
from vigilante.scorer.transforms import FeatureTransform, Limits
from vigilante.version import __version__

if TYPE_CHECKING:
    from vigilante.scorer.detector import Detector  # for the annotations only: the detector imports this module

FORMAT = "vigilante-scorer-state"
SCHEMA_VERSION = 6  # 6: the daily-profile members; 5: the quantile members beside the trees; 4: plain JSON data (vigilante.scorer.codec); 3 and older were pickles, never loaded
"""3: the trees saved as arrays (vigilante.scorer.forest_state); 2: windows configured in seconds."""

HEADER_LIMIT = 64 * 1024
"""The most bytes the header line may take: a longer first line is not a state's."""


MODEL_SETTINGS = ("model_layout", "n_trees", "tree_height", "window_size", "seed", "context_half_lives_seconds",
                  "context_clip", "baseline_half_life_seconds", "trend_half_life_seconds", "baseline_clip",
                  "limit_quantile", "headroom", "threshold_quantile", "threshold_margin", "rise_only_features")
"""Scorer settings baked into a trained model: a saved model made with others is not reused.
(``hold_seconds`` and ``relearn_after_seconds`` are decision knobs, taken from the configuration.)"""


def _versions() -> dict[str, str]:
    return {"vigilante": __version__, "river": river.__version__}


_codecs: dict[type, Codec] = {}


def _state_codec(model: type) -> Codec:
    """The codec of a detector of class ``model`` and the small classes it holds.

    The detector's class is given by the caller (:meth:`Detector.save`, :meth:`Detector.load`):
    the detector module imports this one.
    """
    if model not in _codecs:
        _codecs[model] = Codec([model, ScorerConfig, TickScale, FeatureTransform, Limits, HoltBaseline, HoldDecision, QuantileExcess,
                                DailyProfile, SeasonalExcess])
    return _codecs[model]


def save_state(detector: "Detector", path: str | os.PathLike) -> None:
    """Write ``detector`` to ``path`` atomically (temporary file, fsync, rename), readable by its owner only.

    Raises :class:`~vigilante.output_files.OutputError` when ``path`` cannot be written, or
    holds a file that is not a scorer state (a CSV, a configuration): that is never replaced.
    """
    check_target(path)
    if os.path.lexists(path):
        try:
            read_header(path)
        except NotAStateError as exc:
            raise OutputError(f"{exc}; refusing to replace it: remove it or name another file") from None
        except StateError:
            pass  # a state of ours, of another schema: replacing it is what a save does
    data, blob = _state_codec(type(detector)).encode(detector)
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode() + b"\n" + blob
    header = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        **_versions(),
        "features": list(detector.features),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    with atomic_open(path, "wb", fsync=True, file_mode=0o600) as fh:
        fh.write(json.dumps(header, sort_keys=True).encode() + b"\n")
        fh.write(body)


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The header of the state at ``path``, its schema version the one this vigilante reads.

    Raises :class:`NotAStateError` when the file cannot be read or is not a scorer state
    at all, :class:`StateError` when it is a state of another schema version.
    """
    header, _ = _read(path, body=False)
    return header


def _read(path: str | os.PathLike, body: bool = True) -> tuple[dict[str, Any], bytes]:
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            first = fh.readline(HEADER_LIMIT)
            rest = fh.read() if body else b""
    except OSError as exc:
        raise NotAStateError(f"{path}: cannot read the scorer state: {exc.strerror}") from exc
    try:
        header = json.loads(first)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError
    except ValueError:
        raise NotAStateError(f"{path}: not a vigilante scorer state file") from None
    version = header.get("schema_version")
    if version != SCHEMA_VERSION:
        kind = " (a pickle, which is never loaded: it could run code)" if isinstance(version, int) and version < 4 else ""
        raise StateError(
            f"{path}: state schema version {version}{kind}, this vigilante reads version {SCHEMA_VERSION}: "
            "retrain with `vigilante train`, or let the scorer bootstrap"
        )
    return header, rest


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def load_state(path: str | os.PathLike, config: "ScorerConfig | None" = None, *, model: type) -> "Detector":
    """Read a detector of class ``model`` saved by :func:`save_state`.

    Raises :class:`StateError` (one clear sentence, naming the file) when it is missing,
    not a state file (:class:`NotAStateError`), corrupt, of another schema version, or
    reads other features than ``config`` names. With ``config``, its decision knobs
    (hold, relearning) apply.
    """
    path = os.fspath(path)
    header, body = _read(path)
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise StateError(f"{path}: corrupt: the body does not match its checksum")
    line_end = body.find(b"\n")  # the model's line of JSON, then its arrays' bytes
    try:
        if line_end < 0:
            raise ValueError("the model's line of JSON has no end")
        data = json.loads(body[:line_end], parse_constant=_refuse_constant)
        detector = _state_codec(model).decode(data, memoryview(body)[line_end + 1 :])
    except Exception as exc:  # noqa: BLE001 - any failure to rebuild means the same to the user
        saved, now = header.get("river"), _versions()["river"]
        hint = f" (saved with river {saved}, running river {now})" if saved != now else ""
        raise StateError(f"{path}: cannot restore the model{hint}: {exc}") from exc
    if not isinstance(detector, model):
        raise StateError(f"{path}: the state holds a {type(detector).__name__}, not a Detector")
    _check_attributes(path, detector, model)
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


def _check_attributes(path: str, detector: "Detector", model: type) -> None:
    """Refuse a detector saved by a version of vigilante whose detectors held other attributes."""
    expected = set(vars(model(detector.config, detector.ticks.spacing_seconds)))
    missing, extra = sorted(expected - set(vars(detector))), sorted(set(vars(detector)) - expected)
    if missing or extra:
        what = "; ".join(part for part in (f"without {', '.join(missing)}" if missing else "",
                                           f"with {', '.join(extra)}" if extra else "") if part)
        raise StateError(f"{path}: saved by another version of vigilante ({what}): "
                         "retrain with `vigilante train`, or let the scorer bootstrap")
