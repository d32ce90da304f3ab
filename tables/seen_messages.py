"""First sighting of each (source, messageId), for deduplication within a window (tastemaker/dedup.py).

Keyed by ``source:messageId`` but written from the ``events_by_id`` stream, so each entry lives in the
partition of the raw id the message is about, where that message's duplicates arrive too. RocksDB's TTL drops entries some
time after the window (at compaction), Kafka's retention drops them from the changelog; the window itself is
enforced by the stored time.
"""

from app.main import app, settings
from tables import SMALL_ROCKSDB, state_value

seen_messages = app.Table(
    "seen_messages",
    default=None,
    key_type=bytes,
    value_type=state_value(at=(int, float), src=str),
    help="(source, messageId) -> first seen time and input position, for the dedup window.",
    options={**SMALL_ROCKSDB, "ttl": int(settings.dedup_window * 2)},
    # The changelog forgets too: compacted, and segments older than twice the window deleted, so it does
    # not grow with every message ever seen (a restored entry older than the window is no duplicate anyway).
    extra_topic_configs={"cleanup.policy": "compact,delete", "retention.ms": str(int(settings.dedup_window * 2000))},
)
