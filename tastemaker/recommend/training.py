"""One training run: interaction history in, a candidate model and whether it replaces the one serving out.

    history events ─▶ interactions.from_events ─▶ each person's latest item held out (persons with 2+ items)
                                                └─▶ the rest ─▶ model.train (LightFM) ─▶ candidate snapshot
    held-out cases ─▶ candidate, serving model and popularity each rank every item for the person, folded in
                      from the person's other interactions exactly as served (ModelSnapshot.fold_in)
                   ─▶ hit_rate_at_10 / precision_at_10 per model ─▶ evaluation.promotion(candidate, serving)

Both models are measured on the same held-out cases, so the comparison is fair although the serving model
was trained on older data. The candidate served is the one trained without the held-out interactions (one
per person): a second fit on everything would double the time for one interaction per person.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from tastemaker.recommend import features, interactions as history
from tastemaker.recommend.config import DEFAULT, RecommendConfig
from tastemaker.recommend.evaluation import promotion
from tastemaker.recommend.interactions import Interaction
from tastemaker.recommend.model import ModelSnapshot, train

K = 10
CONTEXT_FIELDS = ("device_type", "locale", "campaign", "page_referrer")


@dataclass
class Holdout:
    person: str
    seen: list[tuple[str, float, float]]  # (item_id, weight, at), newest first: what the fold-in reads
    context: list[str]
    target: str


@dataclass
class Report:
    snapshot: ModelSnapshot | None
    promote: bool
    why: str
    metrics: dict[str, float] = field(default_factory=dict)  # the candidate's, on the held-out cases
    serving_metrics: dict[str, float] | None = None  # the serving model's, on the same cases
    popularity_metrics: dict[str, float] = field(default_factory=dict)
    interactions: int = 0
    persons: int = 0
    items: int = 0
    holdout: int = 0
    seconds: float = 0.0
    # Set by the caller that read the history (app/training.py): what was read (interaction_log.History
    # summary: records, duplicates, hidden by forget or opt-out markers, markers, read), and per id asked
    # about, its records in the history and those trained on. The audit names persons: print it, never log it.
    history: dict[str, int] = field(default_factory=dict)
    audit: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.snapshot.version if self.snapshot else None, "promote": self.promote, "why": self.why,
                "metrics": self.metrics, "serving_metrics": self.serving_metrics,
                "popularity_metrics": self.popularity_metrics, "interactions": self.interactions,
                "persons": self.persons, "items": self.items, "holdout": self.holdout,
                "seconds": round(self.seconds, 2),
                "trained_from": self.snapshot.trained_from if self.snapshot else None,
                "trained_to": self.snapshot.trained_to if self.snapshot else None,
                "history": self.history, "audit": self.audit}


def contexts_of(events: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each person's context tokens, from the latest event that carried a context."""
    latest: dict[str, tuple[float, dict]] = {}
    for event in events:
        person = history.person_of(event)
        context = {name: event[name] for name in CONTEXT_FIELDS if event.get(name)}
        at = float(event.get("event_time") or 0.0)
        if person and context and (person not in latest or at >= latest[person][0]):
            latest[person] = (at, context)
    return {person: features.context_tokens(_as_context(context)) for person, (_, context) in latest.items()}


def _as_context(fields: Mapping[str, Any]) -> dict[str, Any]:
    # The names the profile's last context uses (tastemaker/profile.py), which features.context_tokens reads.
    return {"device": fields.get("device_type"), "locale": fields.get("locale"),
            "referrer": fields.get("page_referrer"), "campaign": fields.get("campaign") or {}}


POPULAR_GLOBAL = 200  # items in the global popular list of a model
POPULAR_PER_TOKEN = 50  # per context token
MIN_PERSONS_PER_TOKEN = 5  # a context token seen on fewer persons gets no list of its own


def popularity(pairs: Sequence[Interaction], contexts: Mapping[str, list[str]]) -> dict[str, list[tuple[str, float]]]:
    """Summed interaction weights per item, for everyone ("") and per context token: what visitors on the
    same device, locale, referrer or campaign took to, for a person the model knows nothing else about."""
    overall: Counter = Counter()
    by_token: dict[str, Counter] = defaultdict(Counter)
    persons_by_token: Counter = Counter()
    for person, tokens in contexts.items():
        persons_by_token.update(set(tokens))
    for pair in pairs:
        overall[pair.item_id] += pair.weight
        for token in contexts.get(pair.person, ()):
            by_token[token][pair.item_id] += pair.weight
    lists = {"": _top(overall, POPULAR_GLOBAL)}
    for token, counts in by_token.items():
        if persons_by_token[token] >= MIN_PERSONS_PER_TOKEN:
            lists[token] = _top(counts, POPULAR_PER_TOKEN)
    return lists


def _top(counts: Counter, n: int) -> list[tuple[str, float]]:
    return [(item, round(weight, 3)) for item, weight in sorted(counts.items(), key=lambda e: (-e[1], e[0]))[:n]]


def split(pairs: Sequence[Interaction], contexts: Mapping[str, list[str]]) -> tuple[list[Interaction], list[Holdout]]:
    """Hold out each person's latest item (persons with at least two); the rest trains."""
    by_person: dict[str, list[Interaction]] = defaultdict(list)
    for pair in pairs:
        by_person[pair.person].append(pair)
    training, cases = [], []
    for person, own in by_person.items():
        if len(own) < 2:
            training += own
            continue
        own = sorted(own, key=lambda i: (i.at, i.item_id))
        held, rest = own[-1], own[:-1]
        training += rest
        seen = [(i.item_id, i.weight, i.at) for i in sorted(rest, key=lambda i: -i.at)]
        cases.append(Holdout(person, seen, contexts.get(person, []), held.item_id))
    return training, cases


def measure(rank, cases: Sequence[Holdout]) -> dict[str, float]:
    """``rank(case) -> item ids, best first`` (the case's seen items left out)."""
    if not cases:
        return {}
    hits = sum(case.target in rank(case)[:K] for case in cases)
    return {"hit_rate_at_10": hits / len(cases), "precision_at_10": hits / len(cases) / K, "cases": float(len(cases))}


def model_ranker(snapshot: ModelSnapshot, config: RecommendConfig, popular: Sequence[str]):
    def rank(case: Holdout) -> list[str]:
        now = case.seen[0][2] if case.seen else 0.0
        user = snapshot.fold_in(case.seen, case.context, now, config.fold_in)
        seen = {item for item, _, _ in case.seen}
        if user is None:
            return [item for item in popular if item not in seen][:K]
        scores = snapshot.scores(user)
        top = np.argsort(-scores)[: K + len(seen)]
        return [snapshot.item_ids[n] for n in top if snapshot.item_ids[n] not in seen][:K]
    return rank


def popularity_ranker(popular: Sequence[str]):
    def rank(case: Holdout) -> list[str]:
        seen = {item for item, _, _ in case.seen}
        return [item for item in popular if item not in seen][:K]
    return rank


def run(events: Iterable[Mapping[str, Any]], catalog: Iterable[Mapping[str, Any]] = (),
        serving: ModelSnapshot | None = None, config: RecommendConfig = DEFAULT, now: float | None = None) -> Report:
    """Train a candidate on ``events`` (normalized events, as the interaction history holds them) and decide
    whether it replaces ``serving``. Never promotes a model trained on nothing."""
    started = time.monotonic()
    events = list(events)
    pairs = history.from_events(events, config.interactions)
    if not pairs:
        return Report(None, False, "no interactions in the training window")
    contexts = contexts_of(events)
    training, cases = split(pairs, contexts)
    snapshot = train(training, catalog, contexts, config.model, now=now)
    counts = Counter()
    for pair in training:
        counts[pair.item_id] += pair.weight
    popular = [item for item, _ in counts.most_common(200 + K)]
    report = Report(snapshot, False, "", interactions=len(pairs), persons=len({p.person for p in pairs}),
                    items=len(snapshot.item_ids), holdout=len(cases))
    report.metrics = measure(model_ranker(snapshot, config, popular), cases)
    report.popularity_metrics = measure(popularity_ranker(popular), cases)
    if serving is not None:
        report.serving_metrics = measure(model_ranker(serving, config, popular), cases)
    snapshot.metrics = dict(report.metrics)
    snapshot.popular = popularity(pairs, contexts)
    if not cases:
        report.promote, report.why = serving is None, ("no held-out cases to compare on; first model" if serving is None
                                                        else "no held-out cases to compare with the serving model")
    else:
        report.promote, report.why = promotion(report.metrics, report.serving_metrics, config.promotion)
    report.seconds = time.monotonic() - started
    return report
