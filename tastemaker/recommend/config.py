"""Every knob of the recommendation pipeline, with its default and why (one frozen dataclass per stage).

``RecommendConfig`` groups them; each stage module takes only its own part, so a test or a benchmark can
change one stage's setting with ``dataclasses.replace``. Defaults are starting points chosen on MovieLens
100k and generated sessions (bench/recommend_quality.py), not tuned per shop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

DEFAULT_INTERACTION_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "Product Viewed": 1.0,
    "Product Clicked": 1.0,
    "page": 1.0,                       # a product page view (page_type "product") is a view
    "Product Added to Wishlist": 2.0,
    "Product Added": 3.0,
    "Order Completed": 5.0,
    # OTTO's session event types, so its replays read like Segment events
    "clicks": 1.0,
    "carts": 3.0,
    "orders": 5.0,
})


@dataclass(frozen=True)
class InteractionConfig:
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_INTERACTION_WEIGHTS)
    """Weight of an interaction by event label (track name, or page/screen): view 1, wishlist 2, cart 3,
    purchase 5, the ratio of their usual conversion funnel. Labels not listed are not interactions."""
    long_dwell_ms: int = 30_000
    """Visible dwell (engagement heartbeat ``dwell_ms``) from which a view counts as a long view."""
    long_dwell_bonus: float = 1.0
    """Added once to a view's weight when its dwell reaches ``long_dwell_ms`` (a read, not a glance)."""
    max_weight: float = 10.0
    """A (person, item) pair's summed weight is capped here: a hundred views of one item are not a
    hundred signals, and WARP/BPR read the weight as a sample weight."""


@dataclass(frozen=True)
class ModelConfig:
    components: int = 32
    """Embedding dimension. With 20 epochs: MovieLens 100k unseen-only precision@10 0.25, against 0.22 for
    LightFM's example (10 components, 10 epochs); each component costs 4 bytes per item in every worker."""
    loss: str = "warp"
    """LightFM loss: "warp" (optimises the top of the ranking: the best precision@k), "bpr", "logistic"."""
    learning_rate: float = 0.05
    """SGD step (adagrad). LightFM's published MovieLens figures use 0.05."""
    epochs: int = 20
    """Passes over the interactions (about 0.7 s each on MovieLens 100k with 2 threads). WARP keeps
    improving past the example's 10 there."""
    item_alpha: float = 0.0
    """L2 penalty on item features. 0 as in the published figures; raise it for catalogues with many rare tags."""
    user_alpha: float = 0.0
    """L2 penalty on user features."""
    max_sampled: int = 10
    """WARP: negatives sampled per positive before giving up (LightFM's default)."""
    feature_weight: float = 0.1
    """Weight of each item token and context token next to the id's 1, before LightFM scales each row to sum
    1. With equal weights a movie with two genres and a year keeps a quarter of its own embedding and the
    model loses much of its collaborative signal (MovieLens 100k, unseen-only precision@10: 0.19 with equal
    weights and person context tokens, 0.25 at 0.1); tokens still train, and new items and new persons are
    represented by them."""
    item_identity: bool = True
    """Each item also gets its own id as a feature (hybrid: collaborative plus content). New items have none
    yet and are represented by their content features alone. (Persons always train with their id as a
    feature, which the collaborative signal needs; the snapshot does not keep it: persons are folded in.)"""
    num_threads: int = 2
    """Training threads (LightFM's OpenMP build)."""
    seed: int = 42
    """Random state: the same data and config give the same model."""


@dataclass(frozen=True)
class FoldInConfig:
    half_life_s: float = 6 * 3600.0
    """Recency half-life of a person's interactions when folded into their vector, seconds (6 hours): the
    current session dominates, yesterday still counts a little."""
    max_interactions: int = 30
    """Latest interactions folded in (the profile keeps 20 viewed items, a cart, 20 orders)."""
    interactions_weight: float = 2.0
    """Scale of the interaction part (recency-weighted mean of item embeddings) of the person's vector. A
    mean is shorter than the person vectors training learns, which lets the item biases (popularity) take
    over; 2 gave the best MovieLens precision@10 of 1, 2, 3, 5 (0.237 against 0.229 at 1, model 0.256)."""
    context_weight: float = 0.25
    """Scale of the context part (mean of the embeddings of device, locale, referrer, campaign and
    onboarding tokens). Small: with a history, context mostly adds noise (MovieLens, age/gender/occupation
    as context: unseen-only precision@10 0.231 at 0, 0.228 at 0.25, 0.217 at 0.5); without one it is all
    there is, and the scale does not change the ranking then."""


@dataclass(frozen=True)
class CandidateConfig:
    per_source: int = 40
    """Candidates taken from each source (model, similar, trending, popular) before filtering and ranking,
    for a list of up to 10 (4 per listed item beyond that): room for the filters, the category cap and the
    ranking adjustments to reorder. Each candidate costs ~10 us per request (filters, ranking); 100 per
    source made a request ~1.7 ms, 40 ~1 ms (10,000 items, bench/recommend_serving.py)."""
    similar_seeds: int = 5
    """Latest interacted items whose neighbours are candidates."""
    similar_per_seed: int = 20
    """Neighbours per seed item."""
    similar_content_weight: float = 0.3
    """Share of content-feature overlap (Jaccard of tokens) in item similarity; the rest is embedding
    cosine. Content alone keeps working for items the model has never seen."""
    new_item_days: float = 14.0
    """Items created within this many days and not in the model are candidates from their features."""
    source_weights: Mapping[str, float] = field(default_factory=lambda: {
        "collaborative": 1.0, "content": 0.8, "trending": 0.5, "popular": 0.3})
    """How far each source's normalised score counts once sources are mixed (a popular item is a weaker
    reason than a personal match)."""


@dataclass(frozen=True)
class RankingConfig:
    category_affinity: float = 0.3
    """Score bonus for an item per unit of the person's category affinity share (profile affinities,
    normalised to sum 1 per dimension): an item in a category with all the affinity gets +0.3."""
    brand_affinity: float = 0.15
    """Same, brand affinity."""
    tag_affinity: float = 0.1
    """Same, per tag of the item (the best matching tag)."""
    purchase_intent_cart_category: float = 0.3
    """Times the person's purchase intent: bonus for items in the categories of their cart (complete the
    purchase)."""
    research_intent_content: float = 0.3
    """Times the research intent: bonus for articles and guides (items whose categories or tags include one
    of ``content_kinds``)."""
    content_kinds: tuple[str, ...] = ("article", "guide", "articles", "guides", "blog")
    """Category/tag names that mark editorial content for research intent."""
    onboarding: float = 0.2
    """Bonus for items in a category or brand chosen in onboarding (fades as behaviour takes over through
    affinities: it is not decayed, but small)."""


@dataclass(frozen=True)
class CapConfig:
    max_shows: int = 3
    """An item shown this many times without a click is rested (not shown) for ``rest_s``."""
    rest_s: float = 24 * 3600.0
    """Rest duration, seconds (a day)."""
    max_items: int = 200
    """Items tracked in a person's cap state; the least recently shown are forgotten first (bound)."""


@dataclass(frozen=True)
class DiversityConfig:
    method: str = "category_cap"
    """"category_cap": greedy by score, skipping items whose main category already holds ``max_category_share``
    of the list; "mmr": maximal marginal relevance, score traded against similarity to items already picked."""
    max_category_share: float = 0.4
    """At most this share of the list from one category (rounded up, at least 1 item)."""
    mmr_lambda: float = 0.7
    """MMR: weight of relevance against (1 - lambda) of redundancy."""


@dataclass(frozen=True)
class ExplorationConfig:
    slots: int = 1
    """Positions of the list given to an item outside the person's usual categories (trending or new),
    so the model sees reactions to something else; 0 disables."""
    position: int = 4
    """Where the exploration item goes (0-based), low enough not to hurt the first impression."""


@dataclass(frozen=True)
class PromotionConfig:
    metric: str = "precision_at_10"
    """Offline metric compared between a candidate model and the one serving."""
    margin: float = 0.02
    """A candidate is refused when its metric is below serving's by more than this relative share (2%):
    noise between retrains passes, a real regression does not."""


@dataclass(frozen=True)
class RecommendConfig:
    interactions: InteractionConfig = field(default_factory=InteractionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    fold_in: FoldInConfig = field(default_factory=FoldInConfig)
    candidates: CandidateConfig = field(default_factory=CandidateConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)
    caps: CapConfig = field(default_factory=CapConfig)
    diversity: DiversityConfig = field(default_factory=DiversityConfig)
    exploration: ExplorationConfig = field(default_factory=ExplorationConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    default_count: int = 10
    """Items in a response when the request names no count."""
    max_count: int = 50
    """Most items a request may ask for."""


DEFAULT = RecommendConfig()
