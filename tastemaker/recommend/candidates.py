"""Candidate sources, and how their scores are mixed into one.

Sources (each gives at most ``per_source`` items with a raw score and a short reason)::

    collaborative  the model's scores for the folded-in person (model.py)
    content        neighbours of the person's latest items (similar.py), and new items (created within
                   ``new_item_days``, unknown to the model) scored from their features against the person
    trending       the global trending list (tastemaker/trending.py ``top``)
    popular        popular in the person's context: the first of the popular lists keyed by one of their
                   context tokens (locale, device, ...), else the global one (key "")

Mixing: raw scores are not comparable between sources, so each source's scores are min-max normalised to
[0, 1] and multiplied by the source's weight (``source_weights``); an item found by several sources keeps
its best (score, source, reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from tastemaker.recommend import similar
from tastemaker.recommend.catalog_index import CatalogIndex
from tastemaker.recommend.config import CandidateConfig
from tastemaker.recommend.model import ModelSnapshot

DEFAULT = CandidateConfig()
DAY = 86400.0


@dataclass
class Candidate:
    item_id: str
    score: float
    source: str
    reason: str


def normalise(candidates: Sequence[Candidate], weight: float) -> list[Candidate]:
    if not candidates:
        return []
    scores = [c.score for c in candidates]
    low, high = min(scores), max(scores)
    return [Candidate(c.item_id, weight * ((c.score - low) / (high - low) if high > low else 1.0), c.source, c.reason)
            for c in candidates]


def mix(sources: Iterable[Sequence[Candidate]], config: CandidateConfig = DEFAULT) -> list[Candidate]:
    """One list, best first (ties: by id): each source normalised and weighted, each item's best kept."""
    best: dict[str, Candidate] = {}
    for candidates in sources:
        if not candidates:
            continue
        for c in normalise(candidates, config.source_weights.get(candidates[0].source, 0.5)):
            if c.item_id not in best or c.score > best[c.item_id].score:
                best[c.item_id] = c
    return sorted(best.values(), key=lambda c: (-c.score, c.item_id))


def collaborative(snapshot: ModelSnapshot, user: np.ndarray, reason: str, n: int) -> list[Candidate]:
    scores = snapshot.scores(user)
    if n < len(scores):  # the n best without sorting every item
        best = np.argpartition(-scores, n)[:n]
        top = best[np.lexsort((best, -scores[best]))]
    else:
        top = np.argsort(-scores, kind="stable")
    return [Candidate(snapshot.item_ids[k], float(scores[k]), "collaborative", reason) for k in top]


def new_items(snapshot: ModelSnapshot, user: np.ndarray | None, catalog: CatalogIndex, now: float,
              config: CandidateConfig = DEFAULT) -> list[Candidate]:
    """Catalog items the model was not trained on, created within ``new_item_days``, scored from their
    features (against the person when there is a vector, else by their features' bias)."""
    found = []
    rows = catalog.model_rows(snapshot)
    for k in np.flatnonzero(rows < 0):
        item_id = catalog.ids[k]
        item = catalog.items[item_id]
        created = item.get("created_at")
        if created is not None and now - float(created) > config.new_item_days * DAY:
            continue
        represented = snapshot.represent(item)
        if represented is None:
            continue
        vector, bias = represented
        score = bias + (float(vector @ user) if user is not None else 0.0)
        found.append(Candidate(item_id, score, "content", "new, and like what you look at" if user is not None else "new"))
    found.sort(key=lambda c: (-c.score, c.item_id))
    return found[: config.per_source]


def similar_to(seeds: Sequence[str], catalog: CatalogIndex, snapshot: ModelSnapshot | None,
               config: CandidateConfig = DEFAULT) -> list[Candidate]:
    """Neighbours of the seed items (latest first); an item near several seeds keeps its best."""
    best: dict[str, Candidate] = {}
    for rank, seed in enumerate(seeds[: config.similar_seeds]):
        recency = 1.0 / (1 + rank)  # the latest item's neighbours first
        reason = f"similar to {catalog.title(seed)}"
        for item_id, score in similar.neighbours(seed, catalog, snapshot, config.similar_per_seed,
                                                 config.similar_content_weight):
            score *= recency
            if item_id not in best or score > best[item_id].score:
                best[item_id] = Candidate(item_id, score, "content", reason)
    return sorted(best.values(), key=lambda c: (-c.score, c.item_id))[: config.per_source]


def trending(entries: Iterable[tuple[str, float]], n: int) -> list[Candidate]:
    return [Candidate(_item(key), float(score), "trending", "trending now") for key, score in list(entries)[:n]]


def popular(lists: Mapping[str, Sequence[tuple[str, float]]], context_tokens: Sequence[str], n: int
            ) -> list[Candidate]:
    """The first popular list keyed by one of ``context_tokens`` (in their order), else the global ("")."""
    for token in context_tokens:
        if lists.get(token):
            label = token.split(":", 1)[1].replace("=", " ")
            return [Candidate(_item(k), float(s), "popular", f"popular with visitors like you ({label})")
                    for k, s in list(lists[token])[:n]]
    return [Candidate(_item(k), float(s), "popular", "popular") for k, s in list(lists.get("") or [])[:n]]


def _item(key: str) -> str:
    return key[5:] if key.startswith("item:") else key  # trending keys are "item:<id>"
