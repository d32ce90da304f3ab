"""The item catalog on this worker: the compacted ``items`` topic, read whole by every worker.

    PUT/DELETE /items/{id}, faust -A app items import ──▶ items topic (key: item id, value: the item as JSON;
                                                          a tombstone deletes) ──▶ every worker's TopicFollower
                                                                                ──▶ ``catalog`` (tastemaker.catalog)

Other code reads ``from app.catalog import catalog`` (one object for the worker's life, changed in place;
``catalog.version`` tells it changed) and waits for ``follower.ready`` before trusting it is complete, as the
person stage waits for the rules. A record that is not a valid item (another producer wrote it) is logged,
counted and removes the key's item: the latest record of a key decides, so a worker that replays the topic
after compaction (which keeps only that record) holds what a worker that saw every record holds.
"""

from __future__ import annotations

import logging
from collections import Counter

from app.main import app, settings
from app.topic_follower import TopicFollower
from app.topics import items as items_topic
from tastemaker.catalog import Catalog, ItemError, parse_item_json

log = logging.getLogger(__name__)

OUTCOMES: Counter[str] = Counter()

catalog = Catalog()


def on_record(key: bytes | None, value: bytes | None) -> None:
    item_id = (key or b"").decode(errors="replace")
    if value is None:
        catalog.delete(item_id)
        OUTCOMES["deleted"] += 1
        return
    try:
        item = parse_item_json(value, item_id=item_id)
    except ItemError as error:
        log.warning("items topic: record for %r is not a valid item, the item is removed: %s", item_id, error)
        catalog.delete(item_id)
        OUTCOMES["refused"] += 1
        return
    catalog.upsert(item)
    OUTCOMES["applied"] += 1


follower = TopicFollower(items_topic.get_topic_name(), settings.bootstrap_servers, on_record, from_beginning=True)
app.service(follower)
