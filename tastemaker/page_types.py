"""What kind of page an event happened on: home, product, category, search, cart, checkout, article, ...

Three sources, the first that answers wins::

    event ──▶ page_type property? ──yes──▶ that (stripped, lower case, at most 32 characters)
                │ no
                ▼
              name a known event? ──yes──▶ its type   (Segment E-commerce v2 and Video specs:
                │ no                                   "Product Viewed" -> product, "Cart Viewed" -> cart, ...)
                ▼
              path matches a rule? ──yes──▶ the first matching rule's type (globs, in order)
                │ no
                ▼
              "other"

Names are matched exactly, else in a loose form (lower case, ``_`` and ``-`` as spaces), so
``product_viewed`` is "Product Viewed". Path rules are globs on ``page_path`` (else the path of
``page_url``): ``*`` matches any run of characters, ``/`` included, ``?`` one character, everything else
itself, case-insensitively; a rule must match the whole path. ``/blog/*`` therefore matches
``/blog/a/b`` but not ``/blog`` (add ``/blog`` for that). Default rules (``DEFAULT_PATH_RULES``)::

    /                                          home
    /blog/*  /news/*  /guides/*  /articles/*   article
    /p/*  /product/*  /products/*              product
    /c/*  /category/*  /categories/*           category
    /search*                                   search
    /cart*  /basket*                           cart
    /checkout*                                 checkout

A setting adds rules in front of the defaults (so they win): ``article=/blog/*,/news/*;product=/p/*``
(``PageTypes.from_spec``). Locale prefixes need their own rules, e.g. ``product=/*/p/*``.

It runs on every event: the rules are compiled into one regular expression (the alternation tries them in
order, so the first rule that matches the whole path wins), and the type of each distinct path is cached
(bounded: the cache is cleared when full), as is the type of each event name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlsplit

HOME, PRODUCT, CATEGORY, SEARCH, CART, CHECKOUT = "home", "product", "category", "search", "cart", "checkout"
CONFIRMATION, ARTICLE, VIDEO, OTHER = "confirmation", "article", "video", "other"
MAX_TYPE_LENGTH = 32  # an explicit page_type is free text: bound what a session stores

DEFAULT_NAME_TYPES: Mapping[str, str] = MappingProxyType({
    # Segment E-commerce Spec v2: the events that are a view of a kind of page.
    "Product Viewed": PRODUCT,
    "Product List Viewed": CATEGORY,
    "Product List Filtered": CATEGORY,
    "Products Searched": SEARCH,
    "Cart Viewed": CART,
    "Checkout Started": CHECKOUT,
    "Checkout Step Viewed": CHECKOUT,
    "Checkout Step Completed": CHECKOUT,
    "Payment Info Entered": CHECKOUT,
    "Order Completed": CONFIRMATION,
    # Segment Video Spec: playback and content events happen on a video page.
    "Video Playback Started": VIDEO,
    "Video Content Started": VIDEO,
    "Video Content Playing": VIDEO,
    "Video Content Completed": VIDEO,
})

DEFAULT_PATH_RULES: tuple[tuple[str, str], ...] = (
    ("/", HOME),
    ("/blog/*", ARTICLE), ("/news/*", ARTICLE), ("/guides/*", ARTICLE), ("/articles/*", ARTICLE),
    ("/p/*", PRODUCT), ("/product/*", PRODUCT), ("/products/*", PRODUCT),
    ("/c/*", CATEGORY), ("/category/*", CATEGORY), ("/categories/*", CATEGORY),
    ("/search*", SEARCH),
    ("/cart*", CART), ("/basket*", CART),
    ("/checkout*", CHECKOUT),
)

_TYPE_NAME = re.compile(r"[a-z0-9_\-]+")


class PageTypeSpecError(ValueError):
    pass


def _loose(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


def _glob_to_regex(glob: str) -> str:
    # Our own translation (not fnmatch's): no character classes, and no groups of its own, so the group
    # number of the combined pattern's match says which rule matched.
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)


@dataclass(frozen=True)
class PageTypes:
    #: Event name -> page type (Segment E-commerce v2 and Video specs); matched exactly, else loosely.
    names: Mapping[str, str] = field(default_factory=lambda: DEFAULT_NAME_TYPES)
    #: (path glob, page type) rules tried in order, first whole-path match wins; case-insensitive.
    paths: tuple[tuple[str, str], ...] = DEFAULT_PATH_RULES
    #: The type of an event that no property, name or path rule classifies.
    fallback: str = OTHER
    #: Distinct paths whose type is remembered between events (cleared when full).
    cache_size: int = 4096

    def __post_init__(self) -> None:
        pattern = "|".join(f"({_glob_to_regex(glob)})" for glob, _ in self.paths)
        # Each alternative is anchored at the end, so the alternation falls through to the next rule
        # unless the whole path matches: the first matching rule wins.
        compiled = re.compile(f"(?:{pattern})\\Z", re.IGNORECASE | re.DOTALL) if self.paths else None
        object.__setattr__(self, "_paths_regex", compiled)
        object.__setattr__(self, "_path_cache", {})
        object.__setattr__(self, "_name_cache", {})
        object.__setattr__(self, "_loose_names", {_loose(n): t for n, t in self.names.items()})

    def of(self, event: Mapping[str, Any]) -> str:
        """The page type of a normalized event: its ``page_type``, else by its name, else by its path."""
        explicit = event.get("page_type")
        if isinstance(explicit, str) and explicit.strip():
            return explicit.strip().lower()[:MAX_TYPE_LENGTH]
        name = event.get("name")
        if name:
            by_name = self.of_name(name)
            if by_name:
                return by_name
        return self.of_path(path_of(event))

    def of_name(self, name: str) -> str | None:
        """The type an event name maps to, if any (remembered: names are few, but free text, so bounded)."""
        known = self._name_cache.get(name)  # type: ignore[attr-defined]
        if known is not None:
            return known or None
        found = self.names.get(name) or self._loose_names.get(_loose(name)) or ""  # type: ignore[attr-defined]
        cache: dict[str, str] = self._name_cache  # type: ignore[attr-defined]
        if len(cache) >= self.cache_size:
            cache.clear()
        cache[name] = found
        return found or None

    def of_path(self, path: str | None) -> str:
        """The type of the first rule matching the whole ``path``, else ``fallback``."""
        if not path:
            return self.fallback
        cache: dict[str, str] = self._path_cache  # type: ignore[attr-defined]
        found = cache.get(path)
        if found is None:
            match = self._paths_regex.match(path) if self._paths_regex else None  # type: ignore[attr-defined]
            found = self.paths[match.lastindex - 1][1] if match else self.fallback
            if len(cache) >= self.cache_size:
                cache.clear()
            cache[path] = found
        return found

    @classmethod
    def from_spec(cls, spec: str, *, defaults: bool = True) -> "PageTypes":
        """Rules from ``type=glob,glob;type=glob``, tried before the default rules (or alone: ``defaults=False``).

        Types are lower-case letters, digits, ``_`` and ``-``; globs start with ``/`` or ``*``.
        """
        rules: list[tuple[str, str]] = []
        for item in filter(None, (part.strip() for part in spec.split(";"))):
            page_type, sep, globs = item.partition("=")
            page_type = page_type.strip()
            if not sep:
                raise PageTypeSpecError(f"page type rule {item!r} is not 'type=/path/glob,...'")
            if not _TYPE_NAME.fullmatch(page_type):
                raise PageTypeSpecError(
                    f"page type rule {item!r}: the type must be lower-case letters, digits, '_' or '-'")
            patterns = [g.strip() for g in globs.split(",")]
            if not any(patterns):
                raise PageTypeSpecError(f"page type rule {item!r} has no path glob")
            for glob in patterns:
                if not glob or glob[0] not in "/*":
                    raise PageTypeSpecError(f"page type rule {item!r}: glob {glob!r} must start with '/' or '*'")
                rules.append((glob, page_type))
        return cls(paths=tuple(rules) + (DEFAULT_PATH_RULES if defaults else ()))


def path_of(event: Mapping[str, Any]) -> str | None:
    """The event's page path: ``page_path``, else the path of ``page_url``."""
    path = event.get("page_path")
    if path:
        return path
    url = event.get("page_url")
    if url:
        try:
            return urlsplit(url).path or "/"
        except ValueError:
            return None
    return None
