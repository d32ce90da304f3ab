"""The item catalog: what an item is, reading items from JSON, JSON lines and CSV, and the in-memory
``Catalog`` every worker holds. No Faust: ``app/catalog.py`` feeds it from the compacted ``items`` topic.

    PUT /items/{id}, faust -A app items import FILE ──▶ parse_item ──▶ items topic (key: item id, value: the
                                                        (same rules    normalized item as JSON; a tombstone
                                                         everywhere)   deletes) ──▶ every worker's Catalog

An item, normalized (every key always present, so readers need no defaults)::

    item_id     str, required, 1..256 characters (an integer is taken as its decimal string, as events' ids)
    title       str or null, at most 1024 characters
    categories  [str], at most 20 of at most 256 characters; also a comma-separated string
    tags        [str], at most 20 of at most 64 characters; also a comma-separated string (as events' tags)
    brand       str or null, at most 256 characters
    price       number >= 0 or null; a string holding a number is taken (as events' prices)
    currency    ISO 4217 code (3 letters, upper-cased) or null
    available   bool, default true; also "true"/"false", "yes"/"no", "1"/"0" (CSV cells)
    created_at  epoch milliseconds (1970 to year 9999) or null; given as ISO-8601 (any offset, "Z") or as
                epoch milliseconds
    attributes  {str: any JSON}, at most 100 keys of at most 128 characters, 16 KB as JSON

Rules shared with events: null means absent, strings are stripped and blank ones absent, text lists drop
blanks and repeats, numbers in strings are numbers, a whole item is at most 32 KB (Segment's message limit),
and every refusal names the field and the reason (``ItemError``, shown as the collector's
``{"error": {"status", "field", "reason"}}``). Unlike events, an over-long tag or too many of them refuse the
item instead of being cut: a catalog is fixed by its owner, an event cannot be sent again. Fields the shape
does not know are refused (a misspelt ``catgories`` would otherwise vanish); free data goes in attributes.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections import defaultdict
from typing import Any, Iterable, Iterator, Mapping

import orjson

from tastemaker.identity import clean_id
from tastemaker.ingest.collect import MAX_MESSAGE_BYTES
from tastemaker.ingest.event_time import parse_iso

MAX_ITEM_ID = 256
MAX_TITLE = 1024
MAX_NAME = 256  # brand, one category
MAX_CATEGORIES = 20
MAX_TAGS, MAX_TAG_LENGTH = 20, 64  # as events' tags (tastemaker/ingest/normalize.py)
MAX_ATTRIBUTES, MAX_ATTRIBUTE_NAME, MAX_ATTRIBUTES_BYTES = 100, 128, 16 * 1024
MAX_ITEM_BYTES = MAX_MESSAGE_BYTES  # 32 KB, as one event
# Epoch milliseconds of 9999-12-31T23:59:59.999Z, the last instant an ISO-8601 date-time can name: later is a
# unit mistake (seconds or microseconds), and 1e300 would not even fit the stored item's 64-bit JSON integer.
MAX_CREATED_AT = 253_402_300_799_999

FIELDS = ("item_id", "title", "categories", "tags", "brand", "price", "currency", "available", "created_at",
          "attributes")
ATTRIBUTE_COLUMN = "attributes."  # CSV: a column "attributes.color" is attributes["color"]

_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


class ItemError(ValueError):
    """Why an item is refused: the field (None for the whole item), the reason, and the HTTP status."""

    def __init__(self, field: str | None, reason: str, status: int = 400):
        super().__init__(reason if field is None else f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "field": self.field, "reason": self.reason}


def parse_item(value: Any, *, item_id: str | None = None) -> dict[str, Any]:
    """The normalized item of ``value`` (a JSON object), or ``ItemError``. ``item_id``, when given (the URL's,
    the record's key), fills a missing ``item_id`` and must equal a present one."""
    if not isinstance(value, dict):
        raise ItemError(None, "an item must be a JSON object")
    value = {k: v for k, v in value.items() if v is not None}
    unknown = [k for k in value if k not in FIELDS]
    if unknown:
        raise ItemError(str(unknown[0]), "unknown field; free data goes in attributes")
    if item_id is not None and clean_id(item_id) != item_id:
        raise ItemError("item_id", "item_id must be a non-blank string without surrounding spaces")
    given = value.get("item_id")
    own_id = clean_id(given)
    if given is not None and own_id is None:
        raise ItemError("item_id", "item_id must be a non-blank string")
    if item_id is not None and own_id is not None and own_id != item_id:
        raise ItemError("item_id", f"the item's item_id {own_id!r} is not {item_id!r}")
    own_id = own_id or item_id
    if not own_id:
        raise ItemError("item_id", "item_id is required")
    if len(own_id) > MAX_ITEM_ID:
        raise ItemError("item_id", f"item_id is longer than {MAX_ITEM_ID} characters")
    item = {
        "item_id": own_id,
        "title": _text(value, "title", MAX_TITLE),
        "categories": _texts(value, "categories", MAX_CATEGORIES, MAX_NAME),
        "tags": _texts(value, "tags", MAX_TAGS, MAX_TAG_LENGTH),
        "brand": _text(value, "brand", MAX_NAME),
        "price": _price(value),
        "currency": _currency(value),
        "available": _available(value),
        "created_at": _created_at(value),
        "attributes": _attributes(value),
    }
    if len(orjson.dumps(item)) > MAX_ITEM_BYTES:
        raise ItemError(None, f"item larger than {MAX_ITEM_BYTES // 1024} KB", status=413)
    return item


def parse_item_json(raw: bytes | str, *, item_id: str | None = None) -> dict[str, Any]:
    """An item from its JSON text (a request body, a topic record, a line of a JSON-lines file)."""
    if len(raw) > MAX_ITEM_BYTES:
        raise ItemError(None, f"item larger than {MAX_ITEM_BYTES // 1024} KB", status=413)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ItemError(None, f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    return parse_item(value, item_id=item_id)


def _text(value: Mapping[str, Any], name: str, limit: int) -> str | None:
    text = value.get(name)
    if text is None:
        return None
    if not isinstance(text, str):
        raise ItemError(name, f"{name} must be a string")
    text = text.strip()
    if len(text) > limit:
        raise ItemError(name, f"{name} is longer than {limit} characters")
    return text or None


def _texts(value: Mapping[str, Any], name: str, most: int, limit: int) -> list[str]:
    given = value.get(name)
    if given is None:
        return []
    if isinstance(given, str):
        given = given.split(",")
    if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
        raise ItemError(name, f"{name} must be a list of strings")
    texts: list[str] = []
    for text in given:
        text = text.strip()
        if len(text) > limit:
            raise ItemError(name, f"{text[:20]!r}... is longer than {limit} characters")
        if text and text not in texts:
            texts.append(text)
    if len(texts) > most:
        raise ItemError(name, f"at most {most} {name} (got {len(texts)})")
    return texts


def _price(value: Mapping[str, Any]) -> float | None:
    price = value.get("price")
    if price is None or price == "":
        return None
    if isinstance(price, bool):
        raise ItemError("price", "price must be a number")
    try:
        number = float(price.strip() if isinstance(price, str) else price)
    except (TypeError, ValueError):
        raise ItemError("price", "price must be a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ItemError("price", "price must be a finite number")
    if number < 0:
        raise ItemError("price", f"price must not be negative (got {number:g})")
    return number


def _currency(value: Mapping[str, Any]) -> str | None:
    currency = value.get("currency")
    if currency is None or (isinstance(currency, str) and not currency.strip()):
        return None
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ItemError("currency", f"currency must be a 3-letter ISO 4217 code (got {str(currency)[:10]!r})")
    return code


def _available(value: Mapping[str, Any]) -> bool:
    available = value.get("available", True)
    if isinstance(available, bool):
        return available
    if isinstance(available, int) and available in (0, 1):
        return bool(available)
    if isinstance(available, str):
        word = available.strip().lower()
        if word in _TRUE or word == "":
            return True
        if word in _FALSE:
            return False
    raise ItemError("available", "available must be true or false")


def _created_at(value: Mapping[str, Any]) -> int | None:
    created = value.get("created_at")
    if created is None or created == "":
        return None
    if isinstance(created, bool):
        raise ItemError("created_at", "created_at must be an ISO-8601 date-time or epoch milliseconds")
    if isinstance(created, float) and created.is_integer():
        created = int(created)
    if isinstance(created, str):
        try:
            created = int(parse_iso(created.strip()).timestamp() * 1000)
        except (ValueError, OverflowError):
            raise ItemError("created_at", "created_at is not a valid ISO-8601 date-time") from None
    if not isinstance(created, int):
        raise ItemError("created_at", "created_at is not a valid ISO-8601 date-time")
    # The same bounds whichever way it was given: the stored item is read again by every worker (app/catalog.py),
    # as epoch milliseconds, and must pass again (a date before 1970 was stored, then refused there).
    if created < 0:
        raise ItemError("created_at", "created_at must not be negative (before 1970)")
    if created > MAX_CREATED_AT:
        raise ItemError("created_at", f"created_at is after year 9999 (epoch milliseconds at most {MAX_CREATED_AT})")
    return created


def _attributes(value: Mapping[str, Any]) -> dict[str, Any]:
    attributes = value.get("attributes")
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise ItemError("attributes", "attributes must be an object")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ItemError("attributes", f"at most {MAX_ATTRIBUTES} attributes (got {len(attributes)})")
    for name in attributes:
        if not isinstance(name, str) or not name.strip():
            raise ItemError("attributes", "attribute names must not be blank")
        if len(name) > MAX_ATTRIBUTE_NAME:
            raise ItemError(f"attributes.{name[:20]}...", f"attribute names are at most {MAX_ATTRIBUTE_NAME} characters")
    try:
        size = len(orjson.dumps(attributes))
    except TypeError as exc:  # e.g. integers beyond 64 bits
        raise ItemError("attributes", f"attributes are not serializable: {exc}") from None
    if size > MAX_ATTRIBUTES_BYTES:
        raise ItemError("attributes", f"attributes larger than {MAX_ATTRIBUTES_BYTES // 1024} KB as JSON")
    return attributes


# ---- files: JSON lines and CSV -------------------------------------------------------------------------

#: One line (or CSV record) of a file: its line number, and the item or why it is refused.
Row = tuple[int, "dict[str, Any] | ItemError"]


class FileError(ValueError):
    """The file as a whole cannot be read (no header, an unknown column): nothing in it is imported."""


def file_format(name: str) -> str:
    """``csv`` for ``*.csv``, else ``jsonl`` (``.jsonl``, ``.ndjson``, ``.json`` and anything else)."""
    return "csv" if name.lower().endswith(".csv") else "jsonl"


def read_jsonl(lines: Iterable[str]) -> Iterator[Row]:
    """One item per line; blank lines are skipped. Line numbers count from 1."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, parse_item_json(line.strip())
        except ItemError as error:
            yield number, error


def read_csv(lines: Iterable[str]) -> Iterator[Row]:
    """A header row naming the fields (``item_id`` required; ``attributes.<name>`` columns become
    attributes), then one item per record; empty cells are absent. A record's line number is the line it
    starts on (a quoted cell may span lines). Raises ``FileError`` for a header it cannot use."""
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FileError("the CSV file is empty: a header row naming the fields is required") from None
    unknown = [h for h in header if h not in FIELDS and not (h.startswith(ATTRIBUTE_COLUMN) and h[len(ATTRIBUTE_COLUMN):])]
    if unknown:
        raise FileError(f"line 1: unknown column {unknown[0]!r}; columns are {', '.join(FIELDS[:-1])} and "
                        f"{ATTRIBUTE_COLUMN}<name>")
    if "item_id" not in header:
        raise FileError("line 1: the header has no item_id column")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise FileError(f"line 1: column {repeated[0]!r} appears more than once")
    start = reader.line_num + 1
    for cells in reader:
        number, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield number, ItemError(None, f"{len(cells)} cells, the header has {len(header)} columns")
            continue
        value: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for name, cell in zip(header, cells):
            if cell.strip() == "":
                continue
            if name.startswith(ATTRIBUTE_COLUMN):
                attributes[name[len(ATTRIBUTE_COLUMN):]] = cell
            else:
                value[name] = cell
        if attributes:
            value["attributes"] = attributes
        try:
            yield number, parse_item(value)
        except ItemError as error:
            yield number, error


def read_items(text: str, fmt: str) -> Iterator[Row]:
    """The rows of a file's text in ``fmt`` (``jsonl`` or ``csv``)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark (Excel's CSV)
    if fmt == "csv":
        return read_csv(io.StringIO(text, newline=""))
    if fmt == "jsonl":
        return read_jsonl(text.splitlines())
    raise FileError(f"unknown format {fmt!r}: jsonl or csv")


# ---- the catalog in memory -----------------------------------------------------------------------------


class Catalog:
    """Every item by id, with the ids of each category and brand. ``version`` grows by one with every change
    that changed something (an upsert of the same item, a delete of a missing one do not), so a reader can
    keep what it derived from the catalog until the version moves."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._by_category: dict[str, set[str]] = defaultdict(set)
        self._by_brand: dict[str, set[str]] = defaultdict(set)
        self._order: list[str] | None = []  # ids in order; None once a create or delete made it stale
        self.version = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: str) -> dict[str, Any] | None:
        return self._items.get(item_id)

    def items(self) -> list[dict[str, Any]]:
        """Every item (a list: safe to hand to another thread while the follower goes on)."""
        return list(self._items.values())

    def change_of(self, item: Mapping[str, Any]) -> str:
        """What upserting ``item`` would be: ``created``, ``updated`` or ``unchanged``."""
        current = self._items.get(item["item_id"])
        return "created" if current is None else "unchanged" if current == item else "updated"

    def upsert(self, item: dict[str, Any]) -> str:
        """Put a normalized item (``parse_item``'s); returns ``change_of`` it."""
        change = self.change_of(item)
        if change == "unchanged":
            return change
        item_id = item["item_id"]
        if change == "updated":
            self._unindex(self._items[item_id])
        else:
            self._order = None
        self._items[item_id] = item
        for category in item["categories"]:
            self._by_category[category].add(item_id)
        if item["brand"] is not None:
            self._by_brand[item["brand"]].add(item_id)
        self.version += 1
        return change

    def delete(self, item_id: str) -> bool:
        """Remove the item; False when there was none."""
        item = self._items.pop(item_id, None)
        if item is None:
            return False
        self._unindex(item)
        self._order = None
        self.version += 1
        return True

    def _unindex(self, item: Mapping[str, Any]) -> None:
        for category in item["categories"]:
            _discard(self._by_category, category, item["item_id"])
        if item["brand"] is not None:
            _discard(self._by_brand, item["brand"], item["item_id"])

    def in_category(self, category: str) -> frozenset[str]:
        return frozenset(self._by_category.get(category, ()))

    def of_brand(self, brand: str) -> frozenset[str]:
        return frozenset(self._by_brand.get(brand, ()))

    def categories(self) -> dict[str, int]:
        """Each category with how many items are in it."""
        return {category: len(ids) for category, ids in self._by_category.items()}

    def brands(self) -> dict[str, int]:
        return {brand: len(ids) for brand, ids in self._by_brand.items()}

    def page(self, *, limit: int, after: str | None = None, category: str | None = None,
             brand: str | None = None) -> list[dict[str, Any]]:
        """Up to ``limit`` items in id order, those with an id greater than ``after`` (the last id of the
        previous page), only of ``category`` and/or ``brand`` when given."""
        if category is None and brand is None:
            ids = self._ids()
        else:
            chosen = None
            if category is not None:
                chosen = self._by_category.get(category, set())
            if brand is not None:
                of_brand = self._by_brand.get(brand, set())
                chosen = of_brand if chosen is None else chosen & of_brand
            ids = sorted(chosen)
        start = 0 if after is None else bisect.bisect_right(ids, after)
        return [self._items[i] for i in ids[start:start + max(limit, 0)]]

    def _ids(self) -> list[str]:
        if self._order is None:
            self._order = sorted(self._items)
        return self._order


def _discard(index: dict[str, set[str]], name: str, item_id: str) -> None:
    ids = index.get(name)
    if ids is not None:
        ids.discard(item_id)
        if not ids:
            del index[name]
