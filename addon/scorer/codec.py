"""The scorer's objects as plain JSON data, and back, without running anything the data names.

A saved model must never run code when it is loaded (a pickle can: it names any callable
and its arguments). Here the data only ever picks among a fixed list of the scorer's own
classes, rebuilt from their fields; every other value is JSON's own (text, numbers, lists,
objects, true/false/null) or one of a few tagged objects:

- ``{"$": "tuple", "items": [...]}`` and ``{"$": "deque", "items": [...], "maxlen": n}``;
- ``{"$": "float", "value": "inf"}`` (or ``-inf``, ``nan``: JSON has no such numbers);
- ``{"$": "array", "dtype": "<f8", "shape": [n], "at": offset}``: numbers of a fixed list of dtypes, whose
  bytes are in a separate blob (as they are in memory: no text to format or parse, and half the size);
- ``{"$": "dict", "items": [[key, value], ...]}``: a mapping with a key that is not text, or is ``$``;
- ``{"$": "object", "class": "Limits", "state": {...}}``: an instance of a class given to the :class:`Codec`,
  by its fields (a dataclass) or by ``__getstate__``/``__setstate__``.

So an attribute added to a listed class needs no change here, as long as its value is
made of the above.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     x: float
    ...     y: tuple
    >>> codec = Codec([Point])
    >>> data, blob = codec.encode({"p": Point(float("inf"), (1, 2)), "a": np.arange(3)})
    >>> data["p"]["state"], data["a"], len(blob)
    ({'x': {'$': 'float', 'value': 'inf'}, 'y': {'$': 'tuple', 'items': [1, 2]}}, {'$': 'array', 'dtype': '<i8', 'shape': [3], 'at': 0}, 24)
    >>> codec.decode(data, blob)
    {'p': Point(x=inf, y=(1, 2)), 'a': array([0, 1, 2])}
    >>> codec.decode({"$": "object", "class": "os.system", "state": {}})
    Traceback (most recent call last):
    ...
    vigilante.scorer.codec.CodecError: class 'os.system' is not one a scorer state may hold
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from typing import Any, Callable, Iterable

import numpy as np

ARRAY_DTYPES = frozenset({"<f8", "<i8", "<i4", "|b1"})
"""The array element types a state may hold: numbers and booleans, never Python objects."""

_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class CodecError(ValueError):
    """The data is not a value this codec writes (an unknown tag or class, a malformed field)."""


class Codec:
    """Encode values made of plain data and instances of ``classes``; decode them back."""

    def __init__(self, classes: Iterable[type]):
        self._classes = {cls.__qualname__: cls for cls in classes}
        self._names = {cls: name for name, cls in self._classes.items()}

    def encode(self, value: Any) -> tuple[Any, bytes]:
        """``value`` as JSON-ready data and the blob of its arrays' bytes.

        Raises ``TypeError`` for a value of a type not listed above.
        """
        encoder = _Encoder(self._names)
        return encoder.encode(value), b"".join(encoder.chunks)

    def decode(self, data: Any, blob: bytes | memoryview = b"") -> Any:
        """The value :meth:`encode` gave ``data`` and ``blob`` for; :class:`CodecError` for anything else."""
        return _Decoder(self._classes, blob).decode(data)


class _Encoder:
    def __init__(self, names: dict[type, str]):
        self.names = names
        self.chunks: list[bytes] = []
        self.size = 0

    def encode(self, value: Any) -> Any:
        kind = type(value)
        if value is None or kind is str or kind is bool or kind is int:
            return value
        if kind is float or isinstance(value, (float, np.floating)):
            value = float(value)
            return value if math.isfinite(value) else {"$": "float", "value": repr(value)}
        if isinstance(value, (np.integer, np.bool_)):
            return value.item()
        if kind is list:
            return [self.encode(v) for v in value]
        if kind is tuple:
            return {"$": "tuple", "items": [self.encode(v) for v in value]}
        if kind is dict:
            return self.encode_dict(value)
        if kind is deque:
            return {"$": "deque", "items": [self.encode(v) for v in value], "maxlen": value.maxlen}
        if kind is np.ndarray:
            return self.encode_array(value)
        if kind in self.names:
            return {"$": "object", "class": self.names[kind], "state": self.encode_dict(_state_of(value))}
        raise TypeError(f"cannot save a {kind.__module__}.{kind.__qualname__}: not plain data nor a listed class")

    def encode_dict(self, value: dict) -> dict:
        if all(type(k) is str and k != "$" for k in value):
            return {k: self.encode(v) for k, v in value.items()}
        return {"$": "dict", "items": [[self.encode(k), self.encode(v)] for k, v in value.items()]}

    def encode_array(self, array: np.ndarray) -> dict:
        dtype = array.dtype.str
        if dtype not in ARRAY_DTYPES:
            raise TypeError(f"cannot save an array of {array.dtype}: only {', '.join(sorted(ARRAY_DTYPES))}")
        data = np.ascontiguousarray(array).tobytes()
        at = self.size
        padding = -len(data) % 8  # each array starts aligned, as numpy likes it
        self.chunks += [data, b"\0" * padding]
        self.size += len(data) + padding
        return {"$": "array", "dtype": dtype, "shape": list(array.shape), "at": at}


class _Decoder:
    def __init__(self, classes: dict[str, type], blob: bytes | memoryview):
        self.classes = classes
        self.blob = blob
        self.tagged: dict[str, Callable[[dict], Any]] = {
            "tuple": lambda d: tuple(self.items(d)), "deque": self.decode_deque, "float": _decode_float,
            "array": self.decode_array, "dict": self.decode_dict, "object": self.decode_object,
        }

    def decode(self, data: Any) -> Any:
        kind = type(data)
        if data is None or kind is str or kind is int or kind is float or kind is bool:
            return data
        if kind is list:
            return [self.decode(v) for v in data]
        if kind is not dict:
            raise CodecError(f"a {kind.__name__} is not JSON data")
        tag = data.get("$")
        if tag is None:
            return {k: self.decode(v) for k, v in data.items()}
        decoder = self.tagged.get(tag) if type(tag) is str else None
        if decoder is None:
            raise CodecError(f"unknown tagged value {tag!r}")
        return decoder(data)

    def items(self, data: dict) -> list:
        return [self.decode(v) for v in _field(data, "items", list)]

    def decode_deque(self, data: dict) -> deque:
        maxlen = data.get("maxlen")
        if maxlen is not None and not (type(maxlen) is int and maxlen >= 0):
            raise CodecError(f"a deque's maxlen must be a whole number >= 0 or null, not {maxlen!r}")
        return deque(self.items(data), maxlen=maxlen)

    def decode_dict(self, data: dict) -> dict:
        out = {}
        for pair in _field(data, "items", list):
            if type(pair) is not list or len(pair) != 2:
                raise CodecError("a mapping's items must be [key, value] pairs")
            key, value = self.decode(pair[0]), self.decode(pair[1])
            try:
                out[key] = value
            except TypeError:
                raise CodecError(f"a {type(key).__name__} cannot be a mapping's key") from None
        return out

    def decode_array(self, data: dict) -> np.ndarray:
        dtype, shape, at = data.get("dtype"), _field(data, "shape", list), _field(data, "at", int)
        if dtype not in ARRAY_DTYPES:
            raise CodecError(f"arrays of {dtype!r} are not saved: only {', '.join(sorted(ARRAY_DTYPES))}")
        if not all(type(n) is int and n >= 0 for n in shape):
            raise CodecError(f"an array's shape must be whole numbers >= 0, not {shape}")
        dt, count = np.dtype(dtype), math.prod(shape)
        if not 0 <= at <= len(self.blob) - count * dt.itemsize:
            raise CodecError(f"an array of {count * dt.itemsize} bytes at {at} is past the {len(self.blob)} bytes saved")
        return np.frombuffer(self.blob, dtype=dt, count=count, offset=at).reshape(shape).copy()

    def decode_object(self, data: dict) -> Any:
        name = data.get("class")
        cls = self.classes.get(name) if type(name) is str else None
        if cls is None:
            raise CodecError(f"class {name!r} is not one a scorer state may hold")
        state = self.decode(_field(data, "state", dict))
        if not (type(state) is dict and all(type(k) is str for k in state)):
            raise CodecError(f"the state of a {name} must map attribute names to values")
        if dataclasses.is_dataclass(cls):
            # Through the constructor: a field added since the save takes its default.
            fields = {f.name for f in dataclasses.fields(cls) if f.init}
            unknown = sorted(set(state) - fields)
            if unknown:
                raise CodecError(f"a {name} has no field {', '.join(unknown)}")
            try:
                return cls(**state)
            except TypeError as exc:
                raise CodecError(f"cannot rebuild a {name}: {exc}") from None
        obj = cls.__new__(cls)
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj


def _state_of(obj: Any) -> dict:
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    state = obj.__getstate__()
    if type(state) is not dict:
        raise TypeError(f"cannot save a {type(obj).__qualname__}: its state is not a mapping")
    return state


def _field(data: dict, name: str, kind: type) -> Any:
    value = data.get(name)
    if type(value) is not kind:
        raise CodecError(f"a {data.get('$')} needs {name!r} as a {kind.__name__}")
    return value


def _decode_float(data: dict) -> float:
    try:
        return _NON_FINITE[data.get("value")]
    except (KeyError, TypeError):
        raise CodecError(f"{data.get('value')!r} is not inf, -inf or nan") from None
