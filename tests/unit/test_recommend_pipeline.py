from collections import Counter

import pytest

from tastemaker import profile as profiles
from tastemaker.recommend import caps, controls, diversity, filters, ranking
from tastemaker.recommend.catalog_index import CatalogIndex
from tastemaker.recommend.config import CapConfig, DiversityConfig, ExplorationConfig, RecommendConfig
from tastemaker.recommend.pipeline import Request, recommend
from tests.unit.recommend_data import NOW, DAY, catalog, item, popular_lists, profile_viewing, snapshot

SOURCES = {"collaborative", "content", "popular", "trending", "rule"}


def categories(result, n=None):
    return Counter(i["item_id"].split("-")[0] for i in result.items[:n])


def ids(result):
    return [i["item_id"] for i in result.items]


def books_fan(**extra):
    return {"profile": profile_viewing("books-1", "books-2", "books-3"), **extra}


# --- filters ---------------------------------------------------------------------------------------------

def test_each_filter_removes_what_it_names():
    items = catalog()
    items[0] = {**items[0], "available": False}  # books-0
    ctx = filters.FilterContext(
        CatalogIndex(items), NOW, purchased=frozenset({"books-1"}), in_cart=frozenset({"books-2"}),
        excluded=frozenset({"books-3"}), hidden_items=frozenset({"books-4"}), hidden_categories=frozenset({"garden"}),
        cap_state={"books-5": [0, NOW, NOW + 10]})
    wanted = ["books-0", "books-1", "books-2", "books-3", "books-4", "books-5", "garden-1", "nowhere", "books-6", "shoes-1"]
    kept, removed = filters.apply(wanted, ctx, item_id_of=lambda i: i)
    assert kept == ["books-6", "shoes-1"]
    assert removed == {"unavailable": 2, "purchased": 1, "in_cart": 1, "excluded": 1, "not_interested": 2, "rested": 1}


def test_the_pipeline_never_serves_purchased_cart_excluded_or_unavailable_items():
    items = catalog()
    items[4] = {**items[4], "available": False}  # books-4
    person = {"profile": profile_viewing("books-1", "books-2", cart=("books-3",), purchased=("books-5",))}
    result = recommend(person, snapshot(), items, request=Request(now=NOW, count=30, exclude=["books-6"]))
    served = set(ids(result))
    assert served.isdisjoint({"books-3", "books-4", "books-5", "books-6"})
    assert {"purchased", "in_cart", "excluded", "unavailable"} <= set(result.filtered)


def test_not_interested_in_an_item_and_in_a_category():
    person = books_fan(recommend=controls.not_interested(None, item_id="books-7"))
    first = recommend(person, snapshot(), catalog(), request=Request(now=NOW, count=30))
    assert "books-7" not in ids(first) and categories(first)["books"] > 0

    person["recommend"] = controls.not_interested(person["recommend"], category="Books")
    second = recommend(person, snapshot(), catalog(), request=Request(now=NOW, count=30))
    assert categories(second)["books"] == 0 and len(second.items) == 30

    person["recommend"] = controls.undo_not_interested(person["recommend"], category="books")
    assert categories(recommend(person, snapshot(), catalog(), request=Request(now=NOW)))["books"] > 0


# --- frequency caps --------------------------------------------------------------------------------------

def test_an_item_shown_n_times_without_a_click_is_rested_then_returns():
    config = CapConfig(max_shows=3, rest_s=DAY)
    state = None
    for n in range(2):
        state = caps.record_shown(state, ["a"], NOW + n, config)
    assert not caps.rested(state, "a", NOW + 2)
    state = caps.record_shown(state, ["a"], NOW + 2, config)
    assert caps.rested(state, "a", NOW + 3) and caps.rested(state, "a", NOW + DAY)
    assert not caps.rested(state, "a", NOW + 2 + DAY + 1)


def test_a_click_resets_the_count():
    config = CapConfig(max_shows=2)
    state = caps.record_shown(None, ["a"], NOW, config)
    state = caps.record_click(state, "a")
    state = caps.record_shown(state, ["a"], NOW + 1, config)
    assert not caps.rested(state, "a", NOW + 2)


def test_cap_state_is_bounded():
    state = caps.record_shown(None, [f"i{n}" for n in range(50)], NOW, CapConfig(max_items=10))
    assert len(state) == 10


def test_rested_items_leave_the_list_and_come_back_after_the_rest():
    config = RecommendConfig(caps=CapConfig(max_shows=2, rest_s=DAY))
    person = books_fan(recommend=controls.empty())
    shown = ids(recommend(person, snapshot(), catalog(), request=Request(now=NOW), config=config))
    for n in range(2):
        person["recommend"]["caps"] = caps.record_shown(person["recommend"]["caps"], shown, NOW + n, config.caps)
    later = ids(recommend(person, snapshot(), catalog(), request=Request(now=NOW + 60), config=config))
    assert set(later).isdisjoint(shown)
    rested_over = ids(recommend(person, snapshot(), catalog(), request=Request(now=NOW + 2 * DAY), config=config))
    assert rested_over == shown


# --- diversity and exploration -------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["category_cap", "mmr"])
def test_no_category_takes_more_than_its_share(method):
    config = RecommendConfig(diversity=DiversityConfig(method=method, max_category_share=0.4),
                             exploration=ExplorationConfig(slots=0))
    result = recommend(books_fan(), snapshot(), catalog(), request=Request(now=NOW, count=10), config=config)
    assert len(result.items) == 10
    assert max(categories(result).values()) <= 4


def test_the_cap_fills_the_list_when_too_few_categories_exist():
    books_only = CatalogIndex([item("books", n) for n in range(20)])
    picked = diversity.rerank([f"books-{n}" for n in range(20)], 10, books_only, DiversityConfig(max_category_share=0.3),
                              item_id_of=lambda i: i, score_of=lambda i: 0.0)
    assert picked == [f"books-{n}" for n in range(10)]


def test_the_exploration_slot_brings_another_category():
    config = RecommendConfig(diversity=DiversityConfig(max_category_share=1.0), exploration=ExplorationConfig(slots=1, position=4))
    person = {"profile": profile_viewing("books-1", "books-2", "books-3")}
    person["profile"]["affinities"] = {"category": {"books": [5.0, NOW]}, "tag": {}, "brand": {}}
    result = recommend(person, snapshot(), catalog(), request=Request(now=NOW, count=10), config=config)
    explored = result.items[4]
    assert explored["source"] == "rule" and not explored["item_id"].startswith("books")
    assert categories(result)["books"] == 9


# --- ranking ---------------------------------------------------------------------------------------------

def test_purchase_intent_favours_the_carts_categories_and_research_intent_favours_guides():
    items = CatalogIndex(catalog() + [item("books", 50, item_id="guide-1", categories=["guides"], tags=["howto"])])
    profile = profile_viewing(cart=("garden-1",))
    profile["intent"] = {"at": NOW, "purchase": 0.9, "research": 0.0}
    signals = ranking.signals_of(profile, None, NOW)
    assert ranking.adjustment("garden-5", items, signals)[0] > ranking.adjustment("shoes-5", items, signals)[0]
    assert ranking.adjustment("garden-5", items, signals)[1] == "goes with your cart"

    profile["intent"] = {"at": NOW, "purchase": 0.0, "research": 0.8}
    signals = ranking.signals_of(profile, None, NOW)
    assert ranking.adjustment("guide-1", items, signals)[0] > ranking.adjustment("books-5", items, signals)[0]


def test_affinities_adjust_the_ranking():
    profile = profile_viewing()
    profile["affinities"] = {"category": {"Shoes": [3.0, NOW]}, "tag": {}, "brand": {}}
    signals = ranking.signals_of(profile, None, NOW)
    bonus, reason = ranking.adjustment("shoes-2", CatalogIndex(catalog()), signals)
    assert bonus == pytest.approx(RecommendConfig().ranking.category_affinity) and reason == "you often look at shoes"


# --- user controls, cold start and fallbacks ----------------------------------------------------------

def test_opt_out_gives_non_personalized_results_with_the_flag():
    person = books_fan()
    person["profile"] = profiles.opt_out(person["profile"], NOW)
    result = recommend(person, snapshot(), catalog(), popular=popular_lists(), request=Request(now=NOW))
    assert result.fallback and result.fallback_reason == "opted_out" and not result.personalized
    assert result.model_version is None
    assert {i["source"] for i in result.items} <= {"popular", "trending"}
    assert ids(result) == ids(recommend(None, None, catalog(), popular=popular_lists(), request=Request(now=NOW, personalize=False)))


def test_cold_start_without_onboarding_gets_context_aware_popular_items():
    result = recommend(None, snapshot(), catalog(), popular=popular_lists(),
                       request=Request(now=NOW, context={"locale": "fr-FR"}))
    assert result.fallback and result.fallback_reason == "no_history"
    assert categories(result, 4)["garden"] == 4  # the French list, not the global one (shoes)
    assert "fr-fr" in result.items[0]["reason"]
    anywhere = recommend(None, snapshot(), catalog(), popular=popular_lists(), request=Request(now=NOW))
    assert categories(anywhere, 4)["shoes"] == 4


def test_cold_start_with_onboarding_answers_leans_to_them():
    person = {"recommend": controls.set_preferences(None, categories=["Books"])}
    result = recommend(person, snapshot(), catalog(), popular=popular_lists(), request=Request(now=NOW))
    assert categories(result).most_common(1)[0][0] == "books"
    assert any("which you chose" in i["reason"] or "onboarding" in i["reason"] for i in result.items)


def test_onboarding_seeds_the_profiles_affinities():
    seeded = controls.seed_profile(None, {"categories": ["Garden"], "brands": ["Acme"]}, NOW)
    assert seeded["affinities"]["category"]["garden"][0] > 0 and seeded["affinities"]["brand"]["acme"][0] > 0
    opted_out = controls.seed_profile(profiles.opt_out(profiles.empty(), NOW), {"categories": ["garden"]}, NOW)
    assert not opted_out["affinities"].get("category")


def test_missing_model_falls_back_to_popular_content_never_an_error():
    result = recommend(books_fan(), None, catalog(), trending=[("item:garden-3", 5.0)], popular=popular_lists(),
                       request=Request(now=NOW))
    assert result.fallback and result.fallback_reason == "no_model" and result.model_version is None
    assert len(result.items) == 10 and {i["source"] for i in result.items} <= SOURCES
    assert "garden-3" in ids(result)


def test_a_broken_model_or_profile_still_gives_a_list():
    class Broken:
        version = "broken"

        def fold_in(self, *args, **kwargs):
            raise RuntimeError("corrupt snapshot")

    result = recommend(books_fan(), Broken(), catalog(), popular=popular_lists(), request=Request(now=NOW))
    assert result.fallback and result.fallback_reason == "error" and len(result.items) == 10
    garbage = recommend({"profile": {"recently_viewed": "nonsense"}}, snapshot(), catalog(), popular=popular_lists(),
                        request=Request(now=NOW))
    assert garbage.fallback and len(garbage.items) == 10


def test_nothing_at_all_still_gives_the_newest_items():
    items = catalog() + [item("shoes", 77, item_id="shoes-new", created_at=NOW)]
    result = recommend(None, None, items, request=Request(now=NOW, count=3))
    assert result.fallback and result.items[0]["item_id"] == "shoes-new" and result.items[0]["source"] == "rule"


def test_response_items_carry_score_source_and_reason():
    result = recommend(books_fan(), snapshot(), catalog(), trending=[("item:shoes-1", 3.0)], popular=popular_lists(),
                       request=Request(now=NOW))
    assert not result.fallback and result.model_version == snapshot().version
    for entry in result.items:
        assert set(entry) == {"item_id", "score", "source", "reason"}
        assert entry["source"] in SOURCES and entry["reason"] and isinstance(entry["score"], float)
    assert result.to_dict()["items"] == result.items


def test_without_an_exploration_candidate_the_share_still_holds():
    # Books, garden and shoes are all in the list already: nothing to explore, the slot goes to the list.
    person = {"profile": profile_viewing("books-1", "books-2", cart=("garden-3",))}
    person["profile"]["affinities"] = {"category": {"books": [3.0, NOW]}, "tag": {}, "brand": {}}
    result = recommend(person, snapshot(), catalog(), trending=[("item:shoes-4", 9.0)], popular=popular_lists(),
                       request=Request(now=NOW, count=10))
    assert len(result.items) == 10 and max(categories(result).values()) <= 4
    assert all(i["source"] != "rule" for i in result.items)
