"""The recommendation model in force on this worker: the compacted ``<app_id>-models`` topic, read whole.

    faust -A app train, or the leader's schedule ──▶ models topic, key "serving" (a ModelSnapshot's bytes)
                                                 ──▶ every worker's TopicFollower ──▶ ``model_store.snapshot``

Every worker serves the one snapshot under "serving", and a worker started later loads it from the topic in
milliseconds instead of retraining. Until a model exists (or if the record cannot be read: counted as
``refused:models`` in ``GET /stats/ingest``) recommendations are served from popularity with ``fallback: true``.
"""

from __future__ import annotations

import logging

from app.main import app, settings
from app.stage_reports import OUTCOMES
from app.topic_follower import TopicFollower
from app.topics import models as models_topic
from tastemaker.recommend.model import ModelSnapshot

log = logging.getLogger(__name__)

SERVING = "serving"


class ModelStore:
    def __init__(self) -> None:
        self.snapshot: ModelSnapshot | None = None

    def on_record(self, key: bytes | None, value: bytes | None) -> None:
        if (key or b"").decode(errors="replace") != SERVING:
            return
        if value is None:
            self.snapshot = None
            OUTCOMES["removed:models"] += 1
            return
        try:
            self.snapshot = ModelSnapshot.from_bytes(value)
        except Exception as error:  # noqa: BLE001 - never crash the worker on a record
            # No model rather than the previous one: a worker replaying the topic after compaction sees only
            # this record, and every worker must serve the same thing.
            log.warning("models topic: the serving record is not a model snapshot; serving without a model: %s",
                        type(error).__name__)
            self.snapshot = None
            OUTCOMES["refused:models"] += 1
            return
        OUTCOMES["loaded:models"] += 1
        log.info("serving model %s (%d items)", self.snapshot.version, len(self.snapshot.item_ids))


model_store = ModelStore()
follower = TopicFollower(models_topic.get_topic_name(), settings.bootstrap_servers, model_store.on_record,
                         from_beginning=True)
app.service(follower)
