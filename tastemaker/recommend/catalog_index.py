"""The catalog as the recommender reads it, ``CatalogIndex``: items by id, their content tokens, an item x
token matrix (the catalog itself, validation and storage, is tastemaker/catalog.py).

Item shape (the catalog topic/API's): ``{item_id, title, categories: [str], tags: [str], brand, price,
available: bool, created_at, attributes: {}}``. Built once per catalog version and shared by requests;
content similarity is a sparse product over its item x token matrix, and the rows of its items in a model
snapshot are computed once per snapshot version.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import scipy.sparse as sp

from tastemaker.recommend import features


class CatalogIndex:
    def __init__(self, items: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]):
        values = items.values() if isinstance(items, Mapping) else items
        self.items: dict[str, Mapping[str, Any]] = {item["item_id"]: item for item in values}
        self.tokens: dict[str, frozenset[str]] = {i: features.content_tokens(item) for i, item in self.items.items()}
        self.category: dict[str, str | None] = {i: features.main_category(item) for i, item in self.items.items()}
        # Per item, cleaned once here rather than on every request: (categories, tags, brand).
        self.facets: dict[str, tuple[list[str], list[str], str | None]] = {
            i: ([features.clean(c) for c in item.get("categories") or [] if c],
                [features.clean(t) for t in item.get("tags") or [] if t],
                features.clean(item["brand"]) if item.get("brand") else None)
            for i, item in self.items.items()}
        # Neighbour lists by (item, model version, n, content weight): they change only with the catalog
        # (a new CatalogIndex) or the model, and the same recently viewed items come back request after request.
        self.neighbours: dict[tuple, list[tuple[str, float]]] = {}
        self.ids: list[str] = list(self.items)
        self.position: dict[str, int] = {item_id: n for n, item_id in enumerate(self.ids)}
        vocabulary: dict[str, int] = {}
        rows, cols = [], []
        for n, item_id in enumerate(self.ids):
            for token in self.tokens[item_id]:
                rows.append(n)
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
        self.token_matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                          shape=(len(self.ids), max(1, len(vocabulary))))
        self.token_counts = np.asarray(self.token_matrix.sum(axis=1), dtype=np.float32).ravel()
        self._model_rows: tuple[str, np.ndarray] | None = None

    def model_rows(self, snapshot) -> np.ndarray:
        """Per catalog item (``ids`` order), its row in ``snapshot``, -1 when the model does not know it;
        cached for the latest snapshot version."""
        if self._model_rows is None or self._model_rows[0] != snapshot.version:
            rows = np.array([snapshot.index.get(i, -1) for i in self.ids], dtype=np.int64)
            self._model_rows = (snapshot.version, rows)
        return self._model_rows[1]

    def jaccard(self, item_id: str) -> np.ndarray | None:
        """Jaccard similarity of ``item_id``'s content tokens with every catalog item's (``ids`` order)."""
        n = self.position.get(item_id)
        if n is None or not self.token_counts[n]:
            return None
        shared = (self.token_matrix @ self.token_matrix[n].T).toarray().ravel()
        union = self.token_counts + self.token_counts[n] - shared
        return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)

    @classmethod
    def of(cls, catalog: "CatalogIndex | Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None") -> "CatalogIndex":
        return catalog if isinstance(catalog, CatalogIndex) else cls(catalog or ())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.items

    def __len__(self) -> int:
        return len(self.items)

    def get(self, item_id: str) -> Mapping[str, Any] | None:
        return self.items.get(item_id)

    def available(self, item_id: str) -> bool:
        item = self.items.get(item_id)
        return item is not None and item.get("available", True) is not False

    def categories(self, item_id: str) -> list[str]:
        found = self.facets.get(item_id)
        return found[0] if found else []

    def title(self, item_id: str) -> str:
        item = self.items.get(item_id) or {}
        return str(item.get("title") or item_id)
