"""Trending partials: per partition of ``events_by_person``, the decayed scores of the items and categories
its persons' events touched (tastemaker/trending.py). Key ``partition:<n>``, written by the person agent
while it processes that partition, so each value lives in its partition's changelog; every worker follows
the whole changelog to merge the partials into the global trending lists (app/web/trending.py).
"""

from app.main import app
from tables import SMALL_ROCKSDB, StateValue

trending_partials = app.Table(
    "trending",
    default=None,
    key_type=bytes,
    value_type=StateValue,
    help="'partition:<n>' -> {item:<id>|category:<c>: {'score', 'at'}} (bounded).",
    options=SMALL_ROCKSDB,
)
