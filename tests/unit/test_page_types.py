import pytest

from tastemaker.page_types import DEFAULT_PATH_RULES, PageTypes, PageTypeSpecError, path_of


def page(path=None, **fields):
    return {"type": "page", "name": None, "page_path": path, **fields}


def test_explicit_page_type_wins_over_name_and_path():
    types = PageTypes()
    event = {"type": "track", "name": "Product Viewed", "page_path": "/cart", "page_type": " Landing "}
    assert types.of(event) == "landing"


def test_an_explicit_page_type_is_bounded():
    assert len(PageTypes().of(page("/", page_type="x" * 500))) <= 32


@pytest.mark.parametrize("name, expected", [
    ("Product Viewed", "product"), ("Product List Viewed", "category"), ("Product List Filtered", "category"),
    ("Products Searched", "search"), ("Cart Viewed", "cart"), ("Checkout Started", "checkout"),
    ("Checkout Step Viewed", "checkout"), ("Order Completed", "confirmation"),
    ("Video Playback Started", "video"),
])
def test_segment_spec_names_map_to_page_types_whatever_the_path(name, expected):
    assert PageTypes().of({"type": "track", "name": name, "page_path": "/blog/whatever"}) == expected


def test_names_match_loosely():
    assert PageTypes().of({"type": "track", "name": "product_viewed"}) == PageTypes().of(
        {"type": "track", "name": "Product Viewed"})


@pytest.mark.parametrize("path, expected", [
    ("/", "home"), ("/blog/how-to", "article"), ("/news/2026/01/x", "article"), ("/guides/a", "article"),
    ("/p/123", "product"), ("/products/red-shoe", "product"), ("/category/shoes", "category"),
    ("/c/shoes/red", "category"), ("/search", "search"), ("/search/results", "search"), ("/cart", "cart"),
    ("/checkout/payment", "checkout"), ("/about", "other"), ("/BLOG/Post", "article"),
])
def test_default_path_rules(path, expected):
    assert PageTypes().of(page(path)) == expected


def test_a_rule_must_match_the_whole_path():
    assert PageTypes().of_path("/blog") == "other"
    assert PageTypes().of_path("/shop/p/1") == "other"


def test_path_comes_from_the_url_when_there_is_no_path():
    event = {"type": "page", "page_url": "https://shop.example/p/42?utm_source=x"}
    assert path_of(event) == "/p/42" and PageTypes().of(event) == "product"


def test_no_path_and_no_name_is_the_fallback():
    assert PageTypes().of({"type": "track", "name": "Something"}) == "other"
    assert PageTypes(fallback="unknown").of({"type": "page"}) == "unknown"


def test_first_matching_rule_wins():
    types = PageTypes(paths=(("/shop/sale*", "promo"), ("/shop/*", "category")))
    assert types.of_path("/shop/sale/summer") == "promo"
    assert types.of_path("/shop/shoes") == "category"
    swapped = PageTypes(paths=(("/shop/*", "category"), ("/shop/sale*", "promo")))
    assert swapped.of_path("/shop/sale/summer") == "category"


def test_glob_question_mark_and_literal_characters():
    types = PageTypes(paths=(("/a?c", "x"), ("/v1.0/*", "y")))
    assert types.of_path("/abc") == "x" and types.of_path("/abbc") == "other"
    assert types.of_path("/v1.0/z") == "y" and types.of_path("/v100/z") == "other"  # '.' is literal


def test_repeated_paths_give_the_same_answer_and_the_cache_stays_bounded():
    types = PageTypes(cache_size=10)
    answers = [types.of_path(f"/p/{i}") for i in range(100)] + [types.of_path(f"/p/{i}") for i in range(100)]
    assert set(answers) == {"product"}
    assert len(types._path_cache) <= 10


def test_from_spec_rules_come_before_the_defaults():
    types = PageTypes.from_spec("article=/blog/*, /stories/* ; product=/shop/*/item/*")
    assert types.of_path("/stories/x") == "article"
    assert types.of_path("/shop/shoes/item/9") == "product"
    assert types.of_path("/cart") == "cart"  # defaults still apply
    overriding = PageTypes.from_spec("landing=/")
    assert overriding.of_path("/") == "landing"


def test_from_spec_without_defaults():
    types = PageTypes.from_spec("landing=/lp/*", defaults=False)
    assert types.paths == (("/lp/*", "landing"),)
    assert types.of_path("/cart") == "other"


def test_empty_spec_is_the_defaults():
    assert PageTypes.from_spec("").paths == DEFAULT_PATH_RULES


@pytest.mark.parametrize("spec, complaint", [
    ("article", "not 'type="),
    ("=/blog/*", "type must be"),
    ("Article Page=/blog/*", "type must be"),
    ("article=", "no path glob"),
    ("article=/blog/*,", "must start with"),
    ("article=blog/*", "must start with"),
])
def test_bad_specs_say_what_is_wrong(spec, complaint):
    with pytest.raises(PageTypeSpecError, match=complaint):
        PageTypes.from_spec(spec)
    with pytest.raises(ValueError):
        PageTypes.from_spec(spec)
