"""River's Half-Space Trees as a few arrays, for saving the model often and cheaply.

A trained model is thousands of small node objects (25 trees of 127 nodes per feature);
pickling them cost 10 ms, the largest part of the scorer service's CPU per tick once saves
are spread over the ticks between them. The trees are full binary trees of a fixed height
whose splits never change after they are built, so a depth-first list of each node's split
and masses describes them exactly; :func:`pack` writes that, :func:`unpack` rebuilds the
same trees, which score and learn exactly as before.

    >>> from river.anomaly import HalfSpaceTrees
    >>> model = HalfSpaceTrees(n_trees=3, height=4, window_size=20, seed=1)
    >>> for i in range(50):
    ...     model.learn_one({"a": (i * 7 % 10) / 10, "b": (i % 3) / 3})
    >>> copy = unpack(pack(model))
    >>> copy.score_one({"a": 0.95, "b": 0.1}) == model.score_one({"a": 0.95, "b": 0.1})
    True
    >>> copy.learn_one({"a": 0.5, "b": 0.5}); model.learn_one({"a": 0.5, "b": 0.5})
    >>> copy.score_one({"a": 0.5, "b": 0.5}) == model.score_one({"a": 0.5, "b": 0.5})
    True
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from river.anomaly import HalfSpaceTrees
from river.tree.padded import PaddedBranch, PaddedLeaf


def pack(model: HalfSpaceTrees) -> dict[str, Any]:
    """The model's parameters, counters and every tree as arrays (depth-first, node before children)."""
    known = _structure.get(model)
    if known is None:  # the trees' nodes and splits never change once built (at the first row): read them once
        nodes = [node for tree_nodes in model._tree_nodes for node in tree_nodes]
        known = (nodes, _read_splits(nodes))
        if nodes:
            _structure[model] = known
    nodes, splits = known
    version, words, gauss = model.rng.getstate()
    return {
        "params": {"n_trees": model.n_trees, "height": model.height, "window_size": model.window_size,
                   "limits": dict(model.limits), "seed": model.seed},
        "counter": model.counter, "first_window": model._first_window,
        # The generator's 625 words as one array: as a list they were most of a save's encoding.
        "rng": (version, np.array(words, dtype=np.int64), gauss),
        **splits, "trees": len(model.trees),
        "l_mass": np.fromiter((node.l_mass for node in nodes), dtype=np.int64, count=len(nodes)),
        "r_mass": np.fromiter((node.r_mass for node in nodes), dtype=np.int64, count=len(nodes)),
    }


_structure: "weakref.WeakKeyDictionary[HalfSpaceTrees, tuple[list, dict[str, Any]]]" = weakref.WeakKeyDictionary()


def _read_splits(nodes: list) -> dict[str, Any]:
    """Each node's split feature (an index into ``names``; -1 for a leaf) and threshold."""
    names = sorted({node.feature for node in nodes if isinstance(node, PaddedBranch)}, key=str)
    index = {name: i for i, name in enumerate(names)}
    branch = [isinstance(node, PaddedBranch) for node in nodes]
    return {"names": names,
            "feature": np.array([index[n.feature] if b else -1 for n, b in zip(nodes, branch)], dtype=np.int32),
            "threshold": np.array([n.threshold if b else 0.0 for n, b in zip(nodes, branch)])}


def unpack(packed: dict[str, Any]) -> HalfSpaceTrees:
    """The model :func:`pack` described, with the same trees, masses and counters."""
    model = HalfSpaceTrees(**packed["params"])
    names, feature, threshold = packed["names"], packed["feature"].tolist(), packed["threshold"].tolist()
    l_mass, r_mass = packed["l_mass"].tolist(), packed["r_mass"].tolist()
    # Checked before building: trees of a height the arrays do not hold would be built node by node first.
    nodes = packed["trees"] * (2 ** (model.height + 1) - 1)
    if not len(feature) == len(threshold) == len(l_mass) == len(r_mass) == nodes:
        raise ValueError(f"packed trees hold {len(l_mass)} nodes, {packed['trees']} trees of height "
                         f"{model.height} have {nodes}")
    position = 0

    def build(depth: int):
        nonlocal position
        i = position
        position += 1
        if depth == model.height:
            return PaddedLeaf(l_mass=l_mass[i], r_mass=r_mass[i])
        left = build(depth + 1)
        right = build(depth + 1)
        return PaddedBranch(left, right, names[feature[i]], threshold[i], l_mass[i], r_mass[i])

    model.trees = [build(0) for _ in range(packed["trees"])]
    if position != len(l_mass):
        raise ValueError(f"packed trees hold {len(l_mass)} nodes, trees of height {model.height} read {position}")
    model._tree_nodes = [list(tree.iter_dfs()) for tree in model.trees]
    model.counter = packed["counter"]
    model._first_window = packed["first_window"]
    version, words, gauss = packed["rng"]
    model.rng.setstate((version, tuple(int(word) for word in words), gauss))  # a tuple in states of before
    return model
