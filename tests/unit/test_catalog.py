"""The item catalog's pure logic: validation and normalization, JSON lines and CSV, the in-memory Catalog."""

from __future__ import annotations


import orjson
import pytest

from tastemaker.catalog import (
    MAX_ITEM_BYTES,
    Catalog,
    FileError,
    ItemError,
    file_format,
    parse_item,
    parse_item_json,
    read_items,
)


def item(item_id: str = "sku-1", **fields) -> dict:
    return parse_item({"item_id": item_id, **fields})


def refusal(value, **kwargs) -> ItemError:
    with pytest.raises(ItemError) as refused:
        parse_item(value, **kwargs)
    return refused.value


# ---- validation and normalization ----------------------------------------------------------------------


def test_a_full_item_is_normalized():
    got = parse_item({
        "item_id": " sku-1 ", "title": " Trail shoe ", "categories": ["Shoes", "Running", "Shoes", " "],
        "tags": "waterproof, light,waterproof", "brand": "Acme", "price": "89.90", "currency": "eur",
        "available": "no", "created_at": "2026-11-27T06:00:00+01:00", "attributes": {"color": "red", "sizes": [40, 41]},
    })
    assert got == {
        "item_id": "sku-1", "title": "Trail shoe", "categories": ["Shoes", "Running"],
        "tags": ["waterproof", "light"], "brand": "Acme", "price": 89.9, "currency": "EUR", "available": False,
        "created_at": 1_795_755_600_000, "attributes": {"color": "red", "sizes": [40, 41]},
    }


def test_only_the_id_is_required_and_nulls_are_absent():
    assert parse_item({"item_id": 42, "title": None, "price": None}) == {
        "item_id": "42", "title": None, "categories": [], "tags": [], "brand": None, "price": None,
        "currency": None, "available": True, "created_at": None, "attributes": {},
    }


def test_the_path_or_key_gives_the_id_and_must_agree_with_the_body():
    assert parse_item({"title": "t"}, item_id="sku-9")["item_id"] == "sku-9"
    error = refusal({"item_id": "sku-1"}, item_id="sku-2")
    assert error.field == "item_id" and "'sku-1'" in error.reason
    assert refusal({"title": "t"}).field == "item_id"
    assert refusal({"title": "t"}, item_id=" sku-9").field == "item_id"  # a key the stored id would not match
    assert refusal({"item_id": "  "}).field == "item_id"
    assert refusal({"item_id": True}).field == "item_id"
    assert refusal({"item_id": "x" * 257}).reason == "item_id is longer than 256 characters"
    assert parse_item({"item_id": "x" * 256})["item_id"] == "x" * 256


@pytest.mark.parametrize("fields, field, reason", [
    ({"price": -1}, "price", "price must not be negative (got -1)"),
    ({"price": "cheap"}, "price", "price must be a number"),
    ({"price": True}, "price", "price must be a number"),
    ({"price": float("nan")}, "price", "price must be a finite number"),
    ({"title": 5}, "title", "title must be a string"),
    ({"title": "t" * 1025}, "title", "title is longer than 1024 characters"),
    ({"brand": ["a"]}, "brand", "brand must be a string"),
    ({"categories": [1]}, "categories", "categories must be a list of strings"),
    ({"categories": {"a": 1}}, "categories", "categories must be a list of strings"),
    ({"categories": [f"c{n}" for n in range(21)]}, "categories", "at most 20 categories (got 21)"),
    ({"tags": ["t" * 65]}, "tags", None),
    ({"currency": "euro"}, "currency", None),
    ({"currency": 978}, "currency", None),
    ({"available": "maybe"}, "available", "available must be true or false"),
    ({"available": 2}, "available", "available must be true or false"),
    ({"created_at": "yesterday"}, "created_at", "created_at is not a valid ISO-8601 date-time"),
    ({"created_at": -5}, "created_at", "created_at must not be negative (before 1970)"),
    ({"created_at": "1969-12-31T23:59:59Z"}, "created_at", None),  # was stored, then refused by every worker
    ({"created_at": 1e300}, "created_at", None),  # was a 500: no 64-bit JSON integer holds it
    ({"created_at": 253_402_300_800_000}, "created_at", None),  # after 9999-12-31T23:59:59.999Z
    ({"attributes": [1]}, "attributes", "attributes must be an object"),
    ({"attributes": {f"a{n}": n for n in range(101)}}, "attributes", "at most 100 attributes (got 101)"),
    ({"attributes": {"blob": "x" * 17_000}}, "attributes", "attributes larger than 16 KB as JSON"),
    ({"attributes": {" ": 1}}, "attributes", "attribute names must not be blank"),
    ({"catgories": ["a"]}, "catgories", "unknown field; free data goes in attributes"),
])
def test_each_refusal_names_the_field_and_the_reason(fields, field, reason):
    error = refusal({"item_id": "sku-1", **fields})
    assert error.field == field and error.status == 400
    if reason is not None:
        assert error.reason == reason
    assert error.as_json() == {"status": 400, "field": field, "reason": error.reason}


def test_values_as_csv_cells_and_json_alike():
    assert item(available="TRUE")["available"] is True and item(available=0)["available"] is False
    assert item(available="")["available"] is True
    assert item(price="0")["price"] == 0.0 and item(price=3)["price"] == 3.0
    assert item(created_at=1_700_000_000_123)["created_at"] == 1_700_000_000_123
    assert item(created_at="2024-02-03")["created_at"] == 1_706_918_400_000  # a date alone: midnight UTC
    assert item(created_at="2024-02-03T10:00:00")["created_at"] == 1_706_954_400_000  # no offset: UTC


def test_json_text_and_the_size_limit():
    assert parse_item_json(b'{"item_id": "a", "price": 1}')["price"] == 1.0
    error = pytest.raises(ItemError, parse_item_json, b'{"item_id": ').value
    assert error.field is None and error.reason.startswith("not valid JSON")
    error = pytest.raises(ItemError, parse_item_json, b"[1]").value
    assert error.reason == "an item must be a JSON object"
    too_large = orjson.dumps({"item_id": "a", "title": "t", "attributes": {"x": "y" * MAX_ITEM_BYTES}})
    assert pytest.raises(ItemError, parse_item_json, too_large).value.status == 413


# ---- files ---------------------------------------------------------------------------------------------


def test_json_lines_report_each_bad_line_by_number_and_keep_the_rest():
    text = '{"item_id": "a", "price": 1}\n\n{"item_id": "b", "price": -2}\nnot json\n{"item_id": "c"}\n'
    rows = list(read_items(text, "jsonl"))
    assert [n for n, _ in rows] == [1, 3, 4, 5]
    assert rows[0][1]["item_id"] == "a" and rows[3][1]["item_id"] == "c"
    assert isinstance(rows[1][1], ItemError) and rows[1][1].field == "price"
    assert isinstance(rows[2][1], ItemError) and rows[2][1].reason.startswith("not valid JSON")


def test_csv_columns_lists_attributes_and_line_numbers():
    text = ("\ufeffitem_id,title,categories,tags,brand,price,currency,available,created_at,attributes.color\n"
            'a,"Shoe, trail",Shoes,"waterproof,light",Acme,89.9,EUR,true,2026-01-01T00:00:00Z,red\n'
            'b,"two\nlines",,,,-1,,,,\n'
            "\n"
            "c,,,,,,,no,,\n"
            "d,too,few\n")
    rows = list(read_items(text, "csv"))
    assert [n for n, _ in rows] == [2, 3, 6, 7]
    a = rows[0][1]
    assert a["title"] == "Shoe, trail" and a["tags"] == ["waterproof", "light"] and a["categories"] == ["Shoes"]
    assert a["attributes"] == {"color": "red"} and a["created_at"] == 1_767_225_600_000 and a["price"] == 89.9
    assert isinstance(rows[1][1], ItemError) and rows[1][1].field == "price"  # the record that starts on line 3
    assert rows[2][1]["available"] is False and rows[2][1]["attributes"] == {} and rows[2][1]["title"] is None
    assert isinstance(rows[3][1], ItemError) and "3 cells" in rows[3][1].reason


@pytest.mark.parametrize("header, message", [
    ("item_id,colour\n", "unknown column 'colour'"),
    ("title,price\n", "no item_id column"),
    ("item_id,title,title\n", "'title' appears more than once"),
    ("", "empty"),
])
def test_a_csv_header_that_cannot_be_used_refuses_the_file(header, message):
    with pytest.raises(FileError) as refused:
        list(read_items(header + "a,b,c\n", "csv") if header else read_items("", "csv"))
    assert message in str(refused.value)


def test_the_format_follows_the_file_name():
    assert file_format("items.CSV") == "csv"
    assert [file_format(n) for n in ("items.jsonl", "items.ndjson", "items.json", "items")] == ["jsonl"] * 4


# ---- the catalog ---------------------------------------------------------------------------------------


def test_upsert_get_delete_and_the_version():
    catalog = Catalog()
    assert catalog.upsert(item("a", categories=["shoes"], brand="acme")) == "created"
    assert catalog.version == 1 and len(catalog) == 1 and "a" in catalog
    assert catalog.upsert(item("a", categories=["shoes"], brand="acme")) == "unchanged"
    assert catalog.version == 1
    assert catalog.change_of(item("a", categories=["bags"], brand="acme")) == "updated"
    assert catalog.upsert(item("a", categories=["bags"], brand="zeta")) == "updated"
    assert catalog.version == 2 and catalog.get("a")["brand"] == "zeta"
    assert catalog.in_category("shoes") == frozenset() and catalog.in_category("bags") == {"a"}
    assert catalog.of_brand("acme") == frozenset() and catalog.of_brand("zeta") == {"a"}
    assert catalog.delete("a") and not catalog.delete("a")
    assert catalog.version == 3 and catalog.get("a") is None and catalog.categories() == {} and catalog.brands() == {}


def test_pages_in_id_order_filtered_by_category_and_brand():
    catalog = Catalog()
    for n in range(10):
        catalog.upsert(item(f"i{n}", categories=["even" if n % 2 == 0 else "odd", "all"], brand=f"b{n % 3}"))
    ids = lambda page: [i["item_id"] for i in page]  # noqa: E731
    assert ids(catalog.page(limit=3)) == ["i0", "i1", "i2"]
    assert ids(catalog.page(limit=3, after="i2")) == ["i3", "i4", "i5"]
    assert ids(catalog.page(limit=100, after="i8")) == ["i9"]
    assert ids(catalog.page(limit=100, category="even")) == ["i0", "i2", "i4", "i6", "i8"]
    assert ids(catalog.page(limit=100, category="even", brand="b0")) == ["i0", "i6"]
    assert ids(catalog.page(limit=100, category="none")) == []
    catalog.delete("i1")
    catalog.upsert(item("i10"))
    assert ids(catalog.page(limit=4)) == ["i0", "i10", "i2", "i3"]
    assert catalog.categories() == {"even": 5, "odd": 4, "all": 9}


def test_twenty_thousand_items_load_and_are_indexed():
    # How fast is bench territory (docs/catalog.md, Size and speed); this checks what a big catalog answers.
    rows = [orjson.dumps({"item_id": f"sku-{n:06d}", "title": f"Item {n}", "categories": [f"c{n % 50}", "all"],
                          "tags": ["t1", "t2"], "brand": f"brand-{n % 200}", "price": n / 10, "currency": "EUR",
                          "created_at": "2026-01-01T00:00:00Z", "attributes": {"color": "red", "size": n % 12}})
            for n in range(20_000)]
    catalog = Catalog()
    for raw in rows:
        catalog.upsert(parse_item_json(raw))
    assert len(catalog) == 20_000 and catalog.version == 20_000
    first = catalog.page(limit=100)
    assert len(catalog.in_category("c7")) == 400 and len(catalog.of_brand("brand-3")) == 100
    assert [i["item_id"] for i in catalog.page(limit=2, after=first[-1]["item_id"])] == ["sku-000100", "sku-000101"]
    assert len(catalog.page(limit=1000, category="all", brand="brand-3")) == 100


def test_the_catalog_page_documents_exactly_the_item_fields_and_their_limits():
    """docs/catalog.md's item table names every field parse_item accepts, no other, and the limits it enforces."""
    import re
    from pathlib import Path

    from tastemaker import catalog as code

    page = (Path(__file__).resolve().parents[2] / "docs" / "catalog.md").read_text()
    table = page[page.index("| field | value |"):].split("\n\n", 1)[0]
    rows = {}
    for names, value in re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|$", table, re.M):
        for name in re.findall(r"`([^`]+)`", names):
            rows[name] = value
    assert sorted(rows) == sorted(code.FIELDS)
    numbers = lambda text: {int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)}  # noqa: E731
    assert code.MAX_ITEM_ID in numbers(rows["item_id"]) and "required" in rows["item_id"]
    assert code.MAX_TITLE in numbers(rows["title"])
    assert code.MAX_NAME in numbers(rows["brand"])
    assert {code.MAX_CATEGORIES, code.MAX_NAME, code.MAX_TAGS, code.MAX_TAG_LENGTH} <= numbers(rows["categories"])
    assert {code.MAX_ATTRIBUTES, code.MAX_ATTRIBUTES_BYTES // 1024} <= numbers(rows["attributes"])
    assert f"a whole item is at most {MAX_ITEM_BYTES // 1024} KB" in page
