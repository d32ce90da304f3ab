"""The catalog as the recommender reads it: items by id, their content tokens, an inverted index.

Item shape (the catalog topic/API's): ``{item_id, title, categories: [str], tags: [str], brand, price,
available: bool, created_at, attributes: {}}``. Built once per catalog version and shared by requests;
the inverted index (token -> items) makes content similarity touch only items sharing a token.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from tastemaker.recommend import features


class Catalog:
    def __init__(self, items: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]):
        values = items.values() if isinstance(items, Mapping) else items
        self.items: dict[str, Mapping[str, Any]] = {item["item_id"]: item for item in values}
        self.tokens: dict[str, frozenset[str]] = {i: features.content_tokens(item) for i, item in self.items.items()}
        self.category: dict[str, str | None] = {i: features.main_category(item) for i, item in self.items.items()}
        self.by_token: dict[str, set[str]] = {}
        for item_id, tokens in self.tokens.items():
            for token in tokens:
                self.by_token.setdefault(token, set()).add(item_id)

    @classmethod
    def of(cls, catalog: "Catalog | Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None") -> "Catalog":
        return catalog if isinstance(catalog, Catalog) else cls(catalog or ())

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
        item = self.items.get(item_id) or {}
        return [features._clean(c) for c in item.get("categories") or [] if c]

    def title(self, item_id: str) -> str:
        item = self.items.get(item_id) or {}
        return str(item.get("title") or item_id)
