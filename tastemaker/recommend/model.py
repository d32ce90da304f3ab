"""The LightFM hybrid model, trained offline, served as a ``ModelSnapshot`` of numpy arrays.

Training (``train``): LightFM (Kula 2015) learns one embedding and one bias per feature; an item is the
mean of its features' embeddings (its own id plus its ``features.item_tokens``), a person the mean of
theirs (their id plus the ``features.context_tokens`` of their last context). The score of (person, item) is
``dot(person, item) + item bias + person bias``. Interactions are weighted (``interactions.py``) and used as
sample weights; the loss is WARP by default (it pushes positives above sampled negatives until a violation
is found, which optimises the top of the list).

Serving (``ModelSnapshot``): only what scoring needs, with no LightFM object: the item representations
(``get_item_representations``: embedding and bias per known item), the embeddings of each item token (to
represent items created after training), and of each context token. Person ids are not kept: a person is
*folded in* at request time (``fold_in``) from their latest interactions, newest weighing most, and from
their context::

    u = interactions_weight * sum_i(r_i * w_i * v_i) / sum_i(r_i * w_i) + context_weight * mean_c(e_c)

with ``v_i`` the item representations, ``w_i`` the interaction weights, ``r_i = 2 ** (-age_i / half_life)``
and ``e_c`` the context token embeddings. The mean of item vectors is where a person who likes those items
sits in the item space (the same space the model scores in), so an event moves the next list at once,
without retraining, and persons never seen in training are scored like the others. The person bias is the
same for every item and is left out.

Bytes (``to_bytes``/``from_bytes``): a compressed npz of the arrays plus a JSON header (version, data range,
params, metrics), without pickle, so a worker loads a snapshot from a topic or a file in milliseconds.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from tastemaker.recommend import features
from tastemaker.recommend.config import FoldInConfig, ModelConfig
from tastemaker.recommend.interactions import Interaction

FORMAT = 1


@dataclass
class ModelSnapshot:
    version: str
    item_ids: list[str]
    item_vectors: np.ndarray      # (items, components), float32
    item_biases: np.ndarray       # (items,)
    item_tokens: list[str]
    item_token_vectors: np.ndarray  # (tokens, components): the embeddings of item feature tokens
    item_token_biases: np.ndarray
    context_tokens: list[str]
    context_vectors: np.ndarray   # (tokens, components): the embeddings of person feature tokens
    trained_from: float | None = None
    """Time of the oldest training interaction, epoch seconds."""
    trained_to: float | None = None
    """Time of the newest training interaction: the data range is [trained_from, trained_to]."""
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: float = 0.0
    popular: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    """Popular items of the training data: "" for everyone, and per person context token (``locale:de-de``)
    the items persons with that token interacted with most (training.popularity): cold start by context."""

    def __post_init__(self) -> None:
        self.index = {item_id: n for n, item_id in enumerate(self.item_ids)}
        self.token_index = {token: n for n, token in enumerate(self.item_tokens)}
        self.context_index = {token: n for n, token in enumerate(self.context_tokens)}
        norms = np.linalg.norm(self.item_vectors, axis=1, keepdims=True)
        self.unit_vectors = self.item_vectors / np.maximum(norms, 1e-9)  # for cosine neighbours

    @property
    def components(self) -> int:
        return int(self.item_vectors.shape[1])

    def represent(self, item: Mapping[str, Any]) -> tuple[np.ndarray, float] | None:
        """An item's (vector, bias): its trained representation, else the mean of its known tokens' (a new
        item, served from its features); None when the model knows nothing of it."""
        n = self.index.get(item.get("item_id"))
        if n is not None:
            return self.item_vectors[n], float(self.item_biases[n])
        rows = [self.token_index[t] for t in features.item_tokens(item) if t in self.token_index]
        if not rows:
            return None
        return self.item_token_vectors[rows].mean(axis=0), float(self.item_token_biases[rows].mean())

    def fold_in(self, recent: Sequence[tuple[str, float, float]], context_tokens: Iterable[str], now: float,
                config: FoldInConfig = FoldInConfig(), extra_items: Mapping[str, Mapping[str, Any]] | None = None,
                ) -> np.ndarray | None:
        """A person's vector from ``recent`` interactions ``(item_id, weight, at)`` and context tokens;
        None when neither says anything the model knows. ``extra_items``: catalog items by id, to represent
        interacted items the model was not trained on from their features."""
        vectors, weights = [], []
        for item_id, weight, at in list(recent)[: config.max_interactions]:
            n = self.index.get(item_id)
            if n is not None:
                vector = self.item_vectors[n]
            elif extra_items and item_id in extra_items:
                found = self.represent(extra_items[item_id])
                if found is None:
                    continue
                vector = found[0]
            else:
                continue
            vectors.append(vector)
            weights.append(weight * 2.0 ** (-max(0.0, now - at) / config.half_life_s))
        context_rows = [self.context_index[t] for t in context_tokens if t in self.context_index]
        if not vectors and not context_rows:
            return None
        user = np.zeros(self.components, dtype=np.float32)
        if vectors and sum(weights) > 0:
            w = np.asarray(weights, dtype=np.float32)
            user += config.interactions_weight * (w @ np.asarray(vectors)) / w.sum()
        if context_rows:
            user += config.context_weight * self.context_vectors[context_rows].mean(axis=0)
        return user

    def scores(self, user: np.ndarray) -> np.ndarray:
        """Scores of every known item for a person vector (``item_ids`` order)."""
        return self.item_vectors @ user + self.item_biases

    def to_bytes(self) -> bytes:
        header = {"format": FORMAT, "version": self.version, "item_ids": self.item_ids,
                  "item_tokens": self.item_tokens, "context_tokens": self.context_tokens,
                  "trained_from": self.trained_from, "trained_to": self.trained_to, "params": self.params,
                  "metrics": self.metrics, "created_at": self.created_at,
                  "popular": {token: [[i, w] for i, w in items] for token, items in self.popular.items()}}
        out = io.BytesIO()
        np.savez_compressed(
            out, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            item_vectors=self.item_vectors, item_biases=self.item_biases,
            item_token_vectors=self.item_token_vectors, item_token_biases=self.item_token_biases,
            context_vectors=self.context_vectors)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ModelSnapshot":
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            header = json.loads(arrays["header"].tobytes())
            if header.get("format") != FORMAT:
                raise ValueError(f"unknown model snapshot format {header.get('format')!r}")
            return cls(
                version=header["version"], item_ids=header["item_ids"], item_vectors=arrays["item_vectors"],
                item_biases=arrays["item_biases"], item_tokens=header["item_tokens"],
                item_token_vectors=arrays["item_token_vectors"], item_token_biases=arrays["item_token_biases"],
                context_tokens=header["context_tokens"], context_vectors=arrays["context_vectors"],
                trained_from=header["trained_from"], trained_to=header["trained_to"], params=header["params"],
                metrics=header["metrics"], created_at=header["created_at"],
                popular={token: [(i, float(w)) for i, w in items] for token, items in header.get("popular", {}).items()})


@dataclass
class Trained:
    """What ``fit`` returns: the LightFM model and its dataset mappings (for offline evaluation), and the
    matrices it was trained on."""
    model: Any
    dataset: Any
    interactions: Any   # coo, 0/1
    weights: Any        # coo, the interaction weights
    item_features: Any
    user_features: Any


def fit(interactions: Sequence[Interaction], catalog: Iterable[Mapping[str, Any]] = (),
        contexts: Mapping[str, Sequence[str]] | None = None, config: ModelConfig = ModelConfig()) -> Trained:
    """Train LightFM on weighted interactions. ``catalog``: item dicts (their tokens become item features;
    catalog items nobody interacted with are represented too). ``contexts``: person -> context tokens."""
    from lightfm import LightFM
    from lightfm.data import Dataset

    contexts = contexts or {}
    items = {item["item_id"]: features.item_tokens(item) for item in catalog}
    persons = sorted({i.person for i in interactions})
    item_ids = sorted(set(items) | {i.item_id for i in interactions})
    item_tokens = sorted({t for tokens in items.values() for t in tokens})
    context_tokens = sorted({t for p in persons for t in contexts.get(p, ())})

    dataset = Dataset(user_identity_features=True, item_identity_features=config.item_identity)
    dataset.fit(persons, item_ids, user_features=context_tokens, item_features=item_tokens)
    matrix, weights = dataset.build_interactions((i.person, i.item_id, i.weight) for i in interactions)
    weight = config.feature_weight
    item_features = dataset.build_item_features(((i, {t: weight for t in items.get(i, [])}) for i in item_ids))
    user_features = dataset.build_user_features(((p, {t: weight for t in contexts.get(p, ())}) for p in persons))
    model = LightFM(no_components=config.components, loss=config.loss, learning_rate=config.learning_rate,
                    item_alpha=config.item_alpha, user_alpha=config.user_alpha, max_sampled=config.max_sampled,
                    random_state=config.seed)
    model.fit(matrix, user_features=user_features, item_features=item_features, sample_weight=weights,
              epochs=config.epochs, num_threads=config.num_threads)
    return Trained(model, dataset, matrix, weights, item_features, user_features)


def snapshot(trained: Trained, interactions: Sequence[Interaction] = (), metrics: Mapping[str, float] | None = None,
             config: ModelConfig = ModelConfig(), now: float | None = None) -> ModelSnapshot:
    """The serving snapshot of a trained model; its version is a hash of its arrays and parameters (the
    same training gives the same version)."""
    user_map, user_feature_map, item_map, item_feature_map = trained.dataset.mapping()
    item_ids = sorted(item_map, key=item_map.get)
    item_biases, item_vectors = trained.model.get_item_representations(trained.item_features)
    model = trained.model
    # Feature rows: the identity features (one per id) come first, then the tokens.
    first_item_token = len(item_map) if config.item_identity else 0
    item_tokens = sorted((t for t, n in item_feature_map.items() if n >= first_item_token), key=item_feature_map.get)
    token_rows = [item_feature_map[t] for t in item_tokens]
    context_tokens = sorted((t for t, n in user_feature_map.items() if n >= len(user_map)), key=user_feature_map.get)
    context_rows = [user_feature_map[t] for t in context_tokens]
    times = [i.at for i in interactions]
    params = asdict(config)
    arrays = [item_vectors, item_biases]
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return ModelSnapshot(
        version=f"lightfm-{digest.hexdigest()[:12]}", item_ids=item_ids,
        item_vectors=item_vectors.astype(np.float32), item_biases=item_biases.astype(np.float32),
        item_tokens=item_tokens, item_token_vectors=model.item_embeddings[token_rows].astype(np.float32),
        item_token_biases=model.item_biases[token_rows].astype(np.float32),
        context_tokens=context_tokens, context_vectors=model.user_embeddings[context_rows].astype(np.float32),
        trained_from=min(times) if times else None, trained_to=max(times) if times else None,
        params=params, metrics=dict(metrics or {}), created_at=time.time() if now is None else now)


def train(interactions: Sequence[Interaction], catalog: Iterable[Mapping[str, Any]] = (),
          contexts: Mapping[str, Sequence[str]] | None = None, config: ModelConfig = ModelConfig(),
          metrics: Mapping[str, float] | None = None, now: float | None = None) -> ModelSnapshot:
    """``fit`` then ``snapshot``."""
    return snapshot(fit(interactions, catalog, contexts, config), interactions, metrics, config, now)
