"""Recommendation quality: MovieLens 100k (ua split) precision@10 and AUC, and next-item hit rate@10 on
session replays (OTTO sample, generated sessions), each next to a popularity baseline from the same run.

    make bench-quality                      (BENCH_SEEDS=3 seeds, medians; BENCH_QUICK=1: one seed)

MovieLens 100k is fetched at run time from the PyPI wheel recbole==1.2.1 into .cache/movielens (git-ignored;
GroupLens terms forbid redistributing it). ua split: walking ml-100k.inter (u.data's order), each user's
first 10 ratings are test, the rest train (90,570 / 9,430). Every rating is a positive, as in LightFM's
published ``movielens_implicit`` figures.

Two conventions, always both:
  all items    test metrics rank every item, train positives included (lightfm.evaluation without
               train_interactions; LightFM's published figures: WARP p@10 0.11, AUC 0.90; BPR 0.10, 0.86)
  unseen only  train positives excluded from the ranking (with train_interactions: WARP p@10 ~0.22, BPR ~0.19-0.20)

Rows: LightFM as published (10 components, lr 0.05, 10 epochs, no features), Tastemaker's model
(tastemaker.recommend.model.fit with ModelConfig defaults: hybrid with genre/year item features and
age/gender/occupation person features), Tastemaker's serving path (the same model's snapshot, each test
person folded in from their train ratings, no person embedding), and popularity (train counts).

Session replays (next-item hit rate@10): the model is trained on the earlier events, and each later event
is predicted from the session's events before it by the serving fold-in (no session id embedding): OTTO's
20-session sample (cut: the last 20% of each session's events are predicted) and generated sessions
(persons with one or two favourite categories, who drift to another category mid-session; see
``generate_sessions``). Popularity recommends the training's most frequent items; on OTTO, where people
come back to items they viewed, a third baseline lists the session's own items (latest first), then popular.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tastemaker.recommend import evaluation  # noqa: E402
from tastemaker.recommend.config import FoldInConfig, InteractionConfig, ModelConfig  # noqa: E402
from tastemaker.recommend.interactions import Interaction  # noqa: E402
from tastemaker.recommend.model import fit, snapshot  # noqa: E402

CACHE = REPO / ".cache" / "movielens"
WHEEL = "recbole-1.2.1-py3-none-any.whl"
OTTO = Path(os.environ.get("OTTO_SAMPLE", str(REPO / "examples/otto-sample/train.jsonl")))
K = 10


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def movielens() -> dict[str, list[list[str]]]:
    wheel = CACHE / WHEEL
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        say(f"fetching MovieLens 100k (recbole==1.2.1 wheel) into {CACHE}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "recbole==1.2.1",
                        "-d", str(CACHE)], check=True)
    tables = {}
    with zipfile.ZipFile(wheel) as z:
        for name in ("inter", "item", "user"):
            lines = z.read(f"recbole/dataset_example/ml-100k/ml-100k.{name}").decode("latin-1").splitlines()
            tables[name] = [line.split("\t") for line in lines[1:]]
    return tables


def ua_split(rows: list[list[str]]) -> tuple[list, list]:
    seen: Counter = Counter()
    train, test = [], []
    for user, item, _rating, at in rows:
        (test if seen[user] < 10 else train).append((user, item, float(at)))
        seen[user] += 1
    return train, test


def matrix(pairs, users, items) -> sp.csr_matrix:
    rows = [users[u] for u, i, *_ in pairs]
    cols = [items[i] for u, i, *_ in pairs]
    m = sp.coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(items)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m.tocsr()


def both_conventions(scores, test, train) -> dict[str, float]:
    return {"p@10 all": evaluation.precision_at_k(scores, test, k=K), "auc all": evaluation.auc(scores, test),
            "p@10 unseen": evaluation.precision_at_k(scores, test, train, k=K),
            "auc unseen": evaluation.auc(scores, test, train)}


def movielens_figures(seeds: list[int]) -> list[tuple[str, dict[str, float], float]]:
    from lightfm import LightFM

    tables = movielens()
    train_rows, test_rows = ua_split(tables["inter"])
    say(f"MovieLens 100k ua split: {len(train_rows)} train / {len(test_rows)} test")
    users = {u: n for n, u in enumerate(sorted({r[0] for r in tables["inter"]}, key=int))}
    items = {i: n for n, i in enumerate(sorted({r[0] for r in tables["item"]} | {r[1] for r in tables["inter"]}, key=int))}
    train, test = matrix(train_rows, users, items), matrix(test_rows, users, items)

    catalog = [{"item_id": i, "title": title, "categories": genres.split(), "attributes": {"year": year}}
               for i, title, year, genres in tables["item"]]
    contexts = {u: [f"age:{int(age) // 10 * 10}", f"gender:{gender}", f"occupation:{job}"]
                for u, age, gender, job, _zip in tables["user"]}
    interactions = [Interaction(u, i, 1.0, at) for u, i, at in train_rows]
    latest = {}
    for u, i, at in train_rows:
        latest.setdefault(u, []).append((i, 1.0, at))

    runs: dict[str, list[dict[str, float]]] = {}
    times: dict[str, list[float]] = {}

    def note(name, figures, seconds):
        runs.setdefault(name, []).append(figures)
        times.setdefault(name, []).append(seconds)

    for seed in seeds:
        for loss in ("warp", "bpr"):
            model = LightFM(learning_rate=0.05, loss=loss, random_state=seed)
            started = time.perf_counter()
            model.fit(train, epochs=10, num_threads=2)
            seconds = time.perf_counter() - started
            scores = model.predict(np.repeat(np.arange(len(users)), len(items)), np.tile(np.arange(len(items)), len(users)),
                                   num_threads=2).reshape(len(users), len(items))
            note(f"LightFM {loss.upper()}, published setup", both_conventions(scores, test, train), seconds)

        config = ModelConfig(seed=seed)
        started = time.perf_counter()
        trained = fit(interactions, catalog, contexts, config)
        seconds = time.perf_counter() - started
        user_map, _, item_map, _ = trained.dataset.mapping()
        u_idx = np.array([user_map[u] for u in users])
        i_idx = np.array([item_map[i] for i in items])
        scores = trained.model.predict(np.repeat(u_idx, len(i_idx)), np.tile(i_idx, len(u_idx)), item_features=trained.item_features,
                                       user_features=trained.user_features, num_threads=2).reshape(len(users), len(items))
        note(f"Tastemaker model ({config.loss.upper()}, {config.components} comp., {config.epochs} ep., features)",
             both_conventions(scores, test, train), seconds)

        snap = snapshot(trained, interactions, config=config)
        fold = FoldInConfig(half_life_s=float("inf"), max_interactions=10_000)  # all of a person's ratings, equally
        columns = np.array([snap.index[i] for i in items])
        folded = np.vstack([snap.scores(snap.fold_in(latest.get(u, []), contexts[u], 0.0, fold))[columns] for u in users])
        note("Tastemaker serving: snapshot + fold-in", both_conventions(folded, test, train), 0.0)

    counts = np.asarray(train.sum(axis=0)).ravel()
    note("Popularity (train counts)", both_conventions(np.tile(counts, (len(users), 1)), test, train), 0.0)
    return [(name, {m: statistics.median(r[m] for r in rs) for m in rs[0]}, statistics.median(times[name]))
            for name, rs in runs.items()]


def otto_sessions() -> list[list[tuple[str, str, float]]]:
    sessions = []
    for line in OTTO.read_text().splitlines():
        session = json.loads(line)
        sessions.append([(str(e["aid"]), e["type"], e["ts"] / 1000.0) for e in session["events"]])
    return sessions


def generate_sessions(persons: int, seed: int, categories: int = 20, per_category: int = 40,
                      length: tuple[int, int] = (6, 14)) -> list[list[tuple[str, str, float]]]:
    """Sessions of views (some carts, few orders) by persons who each favour one or two categories; within
    a category items are Zipf-popular; a third of sessions drift to another category halfway (an intent
    shift the fold-in's recency must follow); 10% of views are random noise."""
    rng = random.Random(seed)
    weights = [1 / (r + 1) for r in range(per_category)]
    sessions = []
    at = 1_700_000_000.0
    for _ in range(persons):
        favourite = rng.sample(range(categories), rng.choice((1, 2)))
        n = rng.randint(*length)
        drift_at = n // 2 if rng.random() < 1 / 3 else n
        drift = rng.randrange(categories)
        events, seen = [], set()
        for step in range(n):
            category = drift if step >= drift_at else rng.choice(favourite)
            if rng.random() < 0.1:
                category = rng.randrange(categories)
            item = f"c{category}-i{rng.choices(range(per_category), weights)[0]}"
            if item in seen:
                continue
            seen.add(item)
            kind = "orders" if rng.random() < 0.02 else "carts" if rng.random() < 0.1 else "clicks"
            at += rng.uniform(5, 120)
            events.append((item, kind, at))
        if len(events) >= 3:
            sessions.append(events)
    return sessions


def catalog_of_generated(categories: int = 20, per_category: int = 40) -> list[dict]:
    return [{"item_id": f"c{c}-i{i}", "categories": [f"cat{c}"]} for c in range(categories) for i in range(per_category)]


def replay(train_sessions, test_cases, catalog, seed: int, exclude_seen: bool) -> dict[str, float]:
    """Hit rate@10 of the fold-in and of popularity. ``test_cases``: (prefix events, next item)."""
    weights = InteractionConfig().weights
    pairs: dict[tuple[str, str], list[float]] = {}
    for n, events in enumerate(train_sessions):
        for item, kind, at in events:
            entry = pairs.setdefault((f"s{n}", item), [0.0, at])
            entry[0] = min(entry[0] + weights[kind], InteractionConfig().max_weight)
            entry[1] = max(entry[1], at)
    interactions = [Interaction(p, i, w, at) for (p, i), (w, at) in pairs.items()]
    config = ModelConfig(seed=seed)
    snap = snapshot(fit(interactions, catalog, None, config), interactions, config=config)
    popular = [i for i, _ in Counter(i.item_id for i in interactions).most_common()]
    model_lists, popular_lists, recent_lists, targets = [], [], [], []
    for prefix, target in test_cases:
        recent = [(item, weights[kind], at) for item, kind, at in reversed(prefix)]
        seen = {item for item, _, _ in prefix} if exclude_seen else set()
        user = snap.fold_in(recent, [], prefix[-1][2], FoldInConfig(), extra_items={c["item_id"]: c for c in catalog})
        if user is None:
            ranked = popular
        else:
            scores = snap.scores(user)
            ranked = [snap.item_ids[k] for k in np.argsort(-scores)[: K + len(seen)]]
        model_lists.append([i for i in ranked if i not in seen][:K])
        popular_lists.append([i for i in popular if i not in seen][:K])
        again = list(dict.fromkeys(item for item, _, _ in reversed(prefix)))  # the session's own items, latest first
        recent_lists.append((again + [i for i in popular if i not in again])[:K])
        targets.append(target)
    return {"fold-in": evaluation.hit_rate_at_k(model_lists, targets, K),
            "popularity": evaluation.hit_rate_at_k(popular_lists, targets, K), "cases": len(targets),
            "session items": evaluation.hit_rate_at_k(recent_lists, targets, K) if not exclude_seen else None}


def session_figures(seeds: list[int]) -> list[tuple[str, dict[str, float]]]:
    rows = []
    otto = otto_sessions()
    cut = [max(1, int(len(s) * 0.8)) for s in otto]
    cases = [(s[:t], s[t][0]) for s, c in zip(otto, cut) for t in range(c, len(s))]
    runs = [replay([s[:c] for s, c in zip(otto, cut)], cases, [], seed, exclude_seen=False) for seed in seeds]
    rows.append(("OTTO sample (20 sessions, last 20% of each predicted)", _median(runs)))

    runs = []
    for seed in seeds:
        train = generate_sessions(3000, seed)
        test = generate_sessions(500, seed + 1000)
        cases = [(s[:t], s[t][0]) for s in test for t in range(2, len(s))]
        runs.append(replay(train, cases, catalog_of_generated(), seed, exclude_seen=True))
    rows.append(("Generated sessions (3,000 train, 500 new persons replayed)", _median(runs)))
    return rows


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {m: None if runs[0][m] is None else statistics.median(r[m] for r in runs) for m in runs[0]}


def main() -> None:
    seeds = [1] if os.environ.get("BENCH_QUICK") else list(range(1, int(os.environ.get("BENCH_SEEDS", "3")) + 1))
    started = time.perf_counter()
    ml = movielens_figures(seeds)
    pop = next(f for name, f, _ in ml if name.startswith("Popularity"))
    print(f"## MovieLens 100k, ua split (medians of {len(seeds)} seed(s))\n")
    print("| model | p@10 all items | AUC all items | p@10 unseen only | AUC unseen only | p@10 ÷ popularity (all / unseen) | fit s |")
    print("|---|---|---|---|---|---|---|")
    for name, f, seconds in ml:
        print(f"| {name} | {f['p@10 all']:.3f} | {f['auc all']:.3f} | {f['p@10 unseen']:.3f} | {f['auc unseen']:.3f} | "
              f"{f['p@10 all'] / pop['p@10 all']:.2f} / {f['p@10 unseen'] / pop['p@10 unseen']:.2f} | "
              f"{seconds:.1f} |" if seconds else
              f"| {name} | {f['p@10 all']:.3f} | {f['auc all']:.3f} | {f['p@10 unseen']:.3f} | {f['auc unseen']:.3f} | "
              f"{f['p@10 all'] / pop['p@10 all']:.2f} / {f['p@10 unseen'] / pop['p@10 unseen']:.2f} | |")
    print("\nPublished (LightFM docs, all items): WARP p@10 0.11, AUC 0.90; BPR p@10 0.10, AUC 0.86. "
          "Unseen only: WARP ~0.22, BPR ~0.19-0.20.\n")
    print(f"## Next-item hit rate@10, session replays (medians of {len(seeds)} seed(s))\n")
    print("| replay | cases | fold-in | popularity | fold-in ÷ popularity | session's own items, then popular |")
    print("|---|---|---|---|---|---|")
    for name, f in session_figures(seeds):
        ratio = f["fold-in"] / f["popularity"] if f["popularity"] else float("inf")
        own = "n/a (items never repeat)" if f["session items"] is None else f"{f['session items']:.3f}"
        print(f"| {name} | {int(f['cases'])} | {f['fold-in']:.3f} | {f['popularity']:.3f} | {ratio:.2f} | {own} |")
    say(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
