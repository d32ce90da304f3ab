"""Offline metrics and the promotion decision.

Metrics take a dense score matrix (persons x items) and sparse test (and train) interaction matrices, and
follow lightfm.evaluation's definitions, so figures compare with LightFM's published ones:

- ``precision_at_k``: per person with a test interaction, the share of their top ``k`` items that are test
  positives; mean over those persons.
- ``auc``: per person, the probability that a random test positive scores above a random other item (ties
  count half); mean over persons.
- Both with ``train`` given exclude its items from the ranking (a known positive is not a recommendation);
  without it (lightfm's default, and its published figures) they stay in. Always state which.
- ``hit_rate_at_k``: the share of next-item cases whose next item is in the top ``k``.

``served_metrics`` measures a snapshot as it is served: each held-out person folded in from their history,
ranked among the items they have not interacted with (the unseen-only convention); this is what a training
job stores in the snapshot's ``metrics`` and what promotion compares.

Promotion (``promotion``): a candidate model replaces the serving one unless its metric is below serving's
by more than ``margin`` (relative); a model without the metric is refused, and anything beats no model.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from tastemaker.recommend.config import FoldInConfig, PromotionConfig


def _masked(scores: np.ndarray, train: sp.spmatrix | None) -> np.ndarray:
    if train is None:
        return scores
    scores = scores.astype(np.float64, copy=True)
    train = sp.coo_matrix(train)
    scores[train.row, train.col] = -np.inf
    return scores


def precision_at_k(scores: np.ndarray, test: sp.spmatrix, train: sp.spmatrix | None = None, k: int = 10) -> float:
    test = sp.csr_matrix(test)
    scores = _masked(scores, train)
    users = np.flatnonzero(np.diff(test.indptr))
    top = np.argpartition(-scores[users], k, axis=1)[:, :k]
    hits = [np.isin(top[n], test.indices[test.indptr[u]:test.indptr[u + 1]]).sum() for n, u in enumerate(users)]
    return float(np.mean(hits) / k)


def auc(scores: np.ndarray, test: sp.spmatrix, train: sp.spmatrix | None = None) -> float:
    test = sp.csr_matrix(test)
    train = sp.csr_matrix(train) if train is not None else None
    values = []
    for u in np.flatnonzero(np.diff(test.indptr)):
        positives = test.indices[test.indptr[u]:test.indptr[u + 1]]
        keep = np.ones(scores.shape[1], dtype=bool)
        if train is not None:
            keep[train.indices[train.indptr[u]:train.indptr[u + 1]]] = False
        keep[positives] = True
        row = scores[u][keep]
        is_positive = np.zeros(scores.shape[1], dtype=bool)
        is_positive[positives] = True
        is_positive = is_positive[keep]
        n_pos, n_neg = is_positive.sum(), (~is_positive).sum()
        if n_neg == 0:
            continue
        ranks = rankdata(row)  # average ranks: ties count half
        values.append((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(values))


def hit_rate_at_k(ranked: Sequence[Sequence[str]], targets: Sequence[str], k: int = 10) -> float:
    """``ranked[n]``: the list shown for case n; ``targets[n]``: the item that came next."""
    if not targets:
        return 0.0
    return sum(target in list(lst)[:k] for lst, target in zip(ranked, targets)) / len(targets)


def promotion(candidate: Mapping[str, float], serving: Mapping[str, float] | None,
              config: PromotionConfig = PromotionConfig()) -> tuple[bool, str]:
    """(promote?, why)."""
    metric = config.metric
    if metric not in candidate:
        return False, f"candidate has no {metric}"
    if not serving or metric not in serving:
        return True, "no serving model to compare with"
    floor = serving[metric] * (1 - config.margin)
    if candidate[metric] < floor:
        return False, f"{metric} {candidate[metric]:.4f} below serving {serving[metric]:.4f} by more than {config.margin:.0%}"
    return True, f"{metric} {candidate[metric]:.4f} against serving {serving[metric]:.4f}"


def served_metrics(snapshot, history: Mapping[str, Sequence[tuple[str, float, float]]],
                   held_out: Mapping[str, Sequence[str]], now: float, k: int = 10,
                   config: FoldInConfig = FoldInConfig()) -> dict[str, float]:
    """precision@k and hit rate@k of ``snapshot`` (a model.ModelSnapshot) for persons folded in from
    ``history`` (person -> (item, weight, at)) against their ``held_out`` items; known items excluded."""
    precisions, hits = [], []
    for person, wanted in held_out.items():
        wanted = set(wanted)
        user = snapshot.fold_in(history.get(person, ()), (), now, config)
        if user is None or not wanted:
            continue
        scores = snapshot.scores(user)
        for item_id, _, _ in history.get(person, ()):
            if item_id in snapshot.index:
                scores[snapshot.index[item_id]] = -np.inf
        top = {snapshot.item_ids[i] for i in np.argsort(-scores)[:k]}
        precisions.append(len(top & wanted) / k)
        hits.append(1.0 if top & wanted else 0.0)
    if not precisions:
        return {}
    return {f"precision_at_{k}": float(np.mean(precisions)), f"hit_rate_at_{k}": float(np.mean(hits)),
            "persons": float(len(precisions))}
