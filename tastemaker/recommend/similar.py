"""Item neighbours: embedding cosine blended with content overlap.

``similarity(a, b) = (1 - c) * cosine(v_a, v_b) + c * jaccard(tokens_a, tokens_b)`` with ``c`` =
``CandidateConfig.similar_content_weight``, ``v`` the model's item representations and ``tokens`` the
item's categories, tags and brand. The cosine carries "bought together / viewed by the same people", the
Jaccard "same kind of thing"; when either item is unknown to the model (new, or no model at all) the
similarity is the Jaccard alone, so neighbours exist from the first minute an item is in the catalog.
"""

from __future__ import annotations

import numpy as np

from tastemaker.recommend.catalog import Catalog
from tastemaker.recommend.model import ModelSnapshot


def content_neighbours(catalog: Catalog, item_id: str) -> dict[str, float]:
    """Jaccard of content tokens with every item sharing at least one (the item itself excluded)."""
    tokens = catalog.tokens.get(item_id)
    if not tokens:
        return {}
    shared: dict[str, int] = {}
    for token in tokens:
        for other in catalog.by_token.get(token, ()):
            shared[other] = shared.get(other, 0) + 1
    shared.pop(item_id, None)
    return {other: n / len(tokens | catalog.tokens[other]) for other, n in shared.items()}


def neighbours(item_id: str, catalog: Catalog, snapshot: ModelSnapshot | None, n: int,
               content_weight: float) -> list[tuple[str, float]]:
    """The ``n`` items most similar to ``item_id``, best first (ties: by id)."""
    content = content_neighbours(catalog, item_id)
    scores: dict[str, float] = {}
    row = snapshot.index.get(item_id) if snapshot is not None else None
    if row is not None:
        cosine = snapshot.unit_vectors @ snapshot.unit_vectors[row]
        cosine[row] = -np.inf
        top = np.argpartition(-cosine, min(n, len(cosine) - 1))[: n * 2] if len(cosine) > n * 2 else np.arange(len(cosine))
        for k in top:
            if np.isfinite(cosine[k]):
                other = snapshot.item_ids[k]
                scores[other] = (1 - content_weight) * float(cosine[k]) + content_weight * content.get(other, 0.0)
        for other, jaccard in content.items():
            if other not in scores:
                known = snapshot.index.get(other)
                cos = float(cosine[known]) if known is not None else None
                scores[other] = jaccard if cos is None else (1 - content_weight) * cos + content_weight * jaccard
    else:
        scores = dict(content)
    return sorted(scores.items(), key=lambda e: (-e[1], e[0]))[:n]
