"""Item neighbours: embedding cosine blended with content overlap.

``similarity(a, b) = (1 - c) * cosine(v_a, v_b) + c * jaccard(tokens_a, tokens_b)`` with ``c`` =
``CandidateConfig.similar_content_weight``, ``v`` the model's item representations and ``tokens`` the
item's categories, tags and brand. The cosine carries "bought together / viewed by the same people", the
Jaccard "same kind of thing"; when either item is unknown to the model (new, or no model at all) the
similarity is the Jaccard alone, so neighbours exist from the first minute an item is in the catalog.
"""

from __future__ import annotations

import numpy as np

from tastemaker.recommend.catalog_index import CatalogIndex
from tastemaker.recommend.model import ModelSnapshot


MAX_CACHED = 50_000  # neighbour lists kept per catalog (a few KB each)


def neighbours(item_id: str, catalog: CatalogIndex, snapshot: ModelSnapshot | None, n: int,
               content_weight: float) -> list[tuple[str, float]]:
    """The ``n`` catalog items most similar to ``item_id``, best first; cached in the catalog (per model
    version): the same recently viewed items come back request after request."""
    key = (item_id, snapshot.version if snapshot is not None else None, n, content_weight)
    found = catalog.neighbours.get(key)
    if found is None:
        if len(catalog.neighbours) >= MAX_CACHED:
            catalog.neighbours.clear()
        found = catalog.neighbours[key] = _neighbours(item_id, catalog, snapshot, n, content_weight)
    return found


def _neighbours(item_id: str, catalog: CatalogIndex, snapshot: ModelSnapshot | None, n: int,
                content_weight: float) -> list[tuple[str, float]]:
    """Numpy over the whole catalog: a sparse product for the Jaccard, one matrix-vector product for the
    cosine."""
    jaccard = catalog.jaccard(item_id)
    row = snapshot.index.get(item_id) if snapshot is not None else None
    if row is None:
        if jaccard is None:
            return []
        scores = jaccard.copy()
        scores[scores <= 0] = -np.inf  # nothing in common: not a neighbour
    else:
        rows = catalog.model_rows(snapshot)
        cosine = (snapshot.unit_vectors @ snapshot.unit_vectors[row])[np.maximum(rows, 0)]
        content = jaccard if jaccard is not None else np.zeros(len(rows), np.float32)
        scores = np.where(rows >= 0, (1 - content_weight) * cosine + content_weight * content, content)
        scores[(rows < 0) & (content <= 0)] = -np.inf
    own = catalog.position.get(item_id)
    if own is not None:
        scores[own] = -np.inf
    count = min(n, len(scores))
    top = np.argpartition(-scores, count - 1)[:count] if count else []
    found = [(catalog.ids[k], float(scores[k])) for k in top if np.isfinite(scores[k])]
    return sorted(found, key=lambda e: (-e[1], e[0]))
