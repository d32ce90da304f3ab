from collections import Counter

import numpy as np

from tastemaker.recommend import evaluation, features
from tastemaker.recommend.config import FoldInConfig, ModelConfig, RecommendConfig, DiversityConfig, ExplorationConfig
from tastemaker.recommend.interactions import Interaction, from_events, from_profile
from tastemaker.recommend.model import ModelSnapshot, fit, snapshot as snapshot_of, train
from tastemaker.recommend.pipeline import Request, recommend
from tests.unit.recommend_data import NOW, catalog, item, profile_viewing, snapshot, training_interactions

NO_DIVERSITY = RecommendConfig(diversity=DiversityConfig(max_category_share=1.0), exploration=ExplorationConfig(slots=0))


def top_categories(result, n=10):
    return Counter(i["item_id"].split("-")[0] for i in result.items[:n])


def test_interactions_are_weighted_by_type_and_long_dwell():
    events = [
        {"type": "page", "page_type": "product", "key": "p", "item_ids": ["a"], "event_time": 1.0, "page_view_id": "pv1"},
        {"type": "track", "name": "Page Heartbeat", "key": "p", "page_view_id": "pv1", "dwell_ms": 45_000, "event_time": 2.0},
        {"type": "track", "name": "Page Heartbeat", "key": "p", "page_view_id": "pv1", "dwell_ms": 60_000, "event_time": 3.0},
        {"type": "track", "name": "Product Added", "key": "p", "item_ids": ["b"], "event_time": 4.0},
        {"type": "track", "name": "Order Completed", "key": "p", "item_ids": ["b"], "event_time": 5.0},
        {"type": "page", "page_type": "home", "key": "p", "item_ids": ["c"], "event_time": 6.0},
    ]
    weights = {i.item_id: i.weight for i in from_events(events)}
    assert weights == {"a": 2.0, "b": 8.0}  # view + one long-dwell bonus; cart 3 + purchase 5; home page: none


def test_profile_interactions_keep_the_strongest_signal_per_item():
    p = profile_viewing("books-1", "books-2", cart=("books-2",), purchased=("garden-1",))
    got = {i: w for i, w, _ in from_profile(p)}
    assert got == {"books-1": 1.0, "books-2": 3.0, "garden-1": 5.0}


def test_snapshot_round_trips_through_bytes():
    snap = snapshot()
    again = ModelSnapshot.from_bytes(snap.to_bytes())
    user = snap.fold_in([("books-1", 1.0, NOW)], [], NOW)
    assert again.version == snap.version and again.item_ids == snap.item_ids
    assert np.allclose(again.scores(user), snap.scores(user))
    assert again.trained_from <= again.trained_to and again.params["components"] == 8


def test_same_training_gives_the_same_version():
    config = ModelConfig(components=4, epochs=2, num_threads=1)
    data = training_interactions(persons_per_category=3)
    assert train(data, catalog(), config=config, now=NOW).version == train(data, catalog(), config=config, now=NOW).version


def test_fold_in_shifts_the_list_to_the_latest_category_without_retraining():
    snap, items = snapshot(), catalog()
    person = {"profile": profile_viewing("books-1", "books-2", "books-3")}
    before = recommend(person, snap, items, request=Request(now=NOW), config=NO_DIVERSITY)
    assert top_categories(before)["books"] >= 8 and not before.fallback

    # Later the same person views garden items: the same snapshot now puts garden first.
    person["profile"]["recently_viewed"] = [[f"garden-{n}", NOW - 10 + n] for n in range(4)] + person["profile"]["recently_viewed"]
    after = recommend(person, snap, items, request=Request(now=NOW + 3600), config=NO_DIVERSITY)
    assert top_categories(after)["garden"] >= 6
    assert after.model_version == before.model_version == snap.version


def test_new_item_is_served_from_its_features_before_any_interaction():
    snap = snapshot()
    new = item("books", 99, item_id="books-new", created_at=NOW - 3600)
    assert "books-new" not in snap.index
    vector, bias = snap.represent(new)
    user = snap.fold_in([("books-1", 1.0, NOW), ("books-2", 1.0, NOW)], [], NOW)
    other = [snap.scores(user)[snap.index[f"{c}-{n}"]] for c in ("garden", "shoes") for n in range(20)]
    assert vector @ user + bias > max(other)

    person = {"profile": profile_viewing("books-1", "books-2")}
    result = recommend(person, snap, catalog() + [new], request=Request(now=NOW, count=25), config=NO_DIVERSITY)
    served = {i["item_id"]: i for i in result.items}
    assert served["books-new"]["source"] == "content"


def test_context_features_are_learned_and_fold_in_for_new_persons():
    data = training_interactions(persons_per_category=10)
    contexts = {i.person: features.context_tokens({"locale": "fr-FR" if i.person.startswith("garden") else "en-US"})
                for i in data}
    snap = snapshot_of(fit(data, catalog(), contexts, ModelConfig(components=8, epochs=30, num_threads=1)), data)
    user = snap.fold_in([], features.context_tokens({"locale": "fr-FR"}), NOW, FoldInConfig(context_weight=1.0))
    top = [snap.item_ids[k] for k in np.argsort(-snap.scores(user))[:10]]
    assert Counter(i.split("-")[0] for i in top)["garden"] >= 7


def test_promotion_refuses_a_model_worse_than_serving_by_more_than_the_margin():
    assert evaluation.promotion({"precision_at_10": 0.10}, {"precision_at_10": 0.12}) == (
        False, "precision_at_10 0.1000 below serving 0.1200 by more than 2%")
    assert evaluation.promotion({"precision_at_10": 0.119}, {"precision_at_10": 0.12})[0]  # within the margin
    assert evaluation.promotion({"precision_at_10": 0.05}, None)[0]                       # nothing serving yet
    assert not evaluation.promotion({}, {"precision_at_10": 0.12})[0]                    # no metric: refused


def test_promotion_of_real_models_keeps_the_better_one():
    import random
    import scipy.sparse as sp
    data = training_interactions()
    held_out = training_interactions(seed=99)  # other items of the same persons' categories
    rng = random.Random(1)
    scrambled = [Interaction(i.person, f"{rng.choice(['books', 'garden', 'shoes'])}-{rng.randrange(20)}", 1.0, i.at) for i in data]
    config = ModelConfig(components=8, epochs=20, num_threads=1)

    def precision(interactions):
        trained = fit(interactions, catalog(), config=config)
        users, _, items, _ = trained.dataset.mapping()
        scores = trained.model.predict(np.repeat(np.arange(len(users)), len(items)), np.tile(np.arange(len(items)), len(users)),
                                       item_features=trained.item_features, user_features=trained.user_features).reshape(len(users), len(items))
        rows = [(users[i.person], items[i.item_id]) for i in held_out if i.person in users]
        test = sp.coo_matrix((np.ones(len(rows)), tuple(zip(*rows))), shape=scores.shape)
        return {"precision_at_10": evaluation.precision_at_k(scores, test, k=10)}

    good, bad = precision(data), precision(scrambled)
    assert evaluation.promotion(bad, good)[0] is False
    assert evaluation.promotion(good, bad)[0] is True


def test_metrics_on_a_hand_made_example():
    import scipy.sparse as sp
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]])
    test = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 1]]))
    train = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 0]]))
    # user 0: top 2 are items 0 (hit) and 1; user 1: items 3 (hit) and 2
    assert evaluation.precision_at_k(scores, test, k=2) == 0.5
    # item 1 known from training: user 0's top 2 become items 0 and 2, both hits
    assert evaluation.precision_at_k(scores, test, train, k=2) == 0.75
    # user 0: positives 0, 2 against negatives 1, 3: 3 of 4 pairs right; user 1: 3 of 3
    assert evaluation.auc(scores, test) == (0.75 + 1.0) / 2
    assert evaluation.auc(scores, test, train) == 1.0  # item 1 is no negative any more
    assert evaluation.hit_rate_at_k([["a", "b"], ["c"]], ["b", "d"], k=2) == 0.5


def test_served_metrics_tell_a_trained_snapshot_from_a_scrambled_one():
    import random
    held_out = {}
    for i in training_interactions(seed=99):
        held_out.setdefault(i.person, []).append(i.item_id)
    data = training_interactions()
    history = {}
    for i in data:
        history.setdefault(i.person, []).append((i.item_id, i.weight, i.at))
    rng = random.Random(1)
    scrambled = [Interaction(i.person, f"{rng.choice(['books', 'garden', 'shoes'])}-{rng.randrange(20)}", 1.0, i.at) for i in data]
    config = ModelConfig(components=8, epochs=20, num_threads=1)
    good = evaluation.served_metrics(train(data, catalog(), config=config), history, held_out, NOW)
    bad = evaluation.served_metrics(train(scrambled, catalog(), config=config), history, held_out, NOW)
    # about 5 of the 12 unseen items of their category are held out: 0.5 is the ceiling
    assert good["persons"] == 60 and good["precision_at_10"] > 2 * bad["precision_at_10"]
    assert evaluation.promotion(bad, good)[0] is False and evaluation.promotion(good, bad)[0] is True
