"""Events counted per raw user key: the first table, proof that events reach RocksDB-backed state.

Keyed like ``events_by_user``, so its partitions are owned by the worker that consumes that topic's
partitions; its changelog topic ``<app_id>-event_counts-changelog`` restores it on any worker.
"""

from app.main import app
from tables import SMALL_ROCKSDB

event_counts = app.Table(
    "event_counts",
    default=None,
    # bytes, so the changelog key is the raw UTF-8 user key: table_route hashes that serialised key to pick
    # the owner, and it must land on the same partition as the raw-keyed events_by_user record (a str key
    # would be JSON-encoded with quotes and hash elsewhere).
    key_type=bytes,
    help="Per raw user key: events counted, and the input offsets applied (tastemaker.event_counts).",
    options=SMALL_ROCKSDB,
)
