"""Raw id -> person: the identity stage's links (tastemaker/identity.py), one small value per id.

Keyed like ``events_by_id`` (bytes, so the changelog key is the raw id and ``table_route`` finds the owner
of an id); its changelog restores the links on any worker after a restart or a rebalance.
"""

from app.main import app
from tables import SMALL_ROCKSDB, state_value

identities = app.Table(
    "identities",
    default=None,
    key_type=bytes,
    value_type=state_value(person=str),
    help="Raw id (userId or anonymousId) -> {'person': canonical person id}.",
    options=SMALL_ROCKSDB,
)
