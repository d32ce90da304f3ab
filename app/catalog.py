"""The item catalog on this worker: the compacted ``items`` topic, read whole by every worker.

    PUT/DELETE /items/{id}, faust -A app items import ──▶ items topic (key: item id, value: the item as JSON;
                                                          a tombstone deletes) ──▶ every worker's TopicFollower
                                                                                ──▶ ``catalog`` (tastemaker.catalog)

Other code reads ``from app.catalog import catalog`` (one object for the worker's life, changed in place;
``catalog.version`` tells it changed) and waits for ``follower.ready`` before trusting it is complete, as the
person stage waits for the rules. A record that is not a valid item (another producer wrote it: not JSON,
nested too deep, wrong types, too large, whatever it holds) is logged, counted (``refused:items`` in
``GET /stats/ingest``) and removes the key's item: the latest record of a key decides, so a worker that
replays the topic after compaction (which keeps only that record) holds what a worker that saw every record
holds.
"""

from __future__ import annotations

import logging

from app.main import app, settings
from app.stage_reports import OUTCOMES
from app.topic_follower import TopicFollower
from app.topics import items as items_topic
from tastemaker.catalog import Catalog, ItemError, parse_item_json

log = logging.getLogger(__name__)

catalog = Catalog()


def on_record(key: bytes | None, value: bytes | None) -> None:
    item_id = (key or b"").decode(errors="replace")
    if value is None:
        catalog.delete(item_id)
        OUTCOMES["deleted:items"] += 1
        return
    try:
        item = parse_item_json(value, item_id=item_id)
    except Exception as error:  # noqa: BLE001 — ItemError, or whatever else a producer's record triggers
        reason = str(error)[:200] if isinstance(error, ItemError) else type(error).__name__
        log.warning("items topic: record for %r is not a valid item, the item is removed: %s", item_id[:100], reason)
        catalog.delete(item_id)
        OUTCOMES["refused:items"] += 1
        return
    catalog.upsert(item)
    OUTCOMES["applied:items"] += 1


follower = TopicFollower(items_topic.get_topic_name(), settings.bootstrap_servers, on_record, from_beginning=True)
app.service(follower)
