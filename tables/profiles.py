"""Person -> the person's whole state: ids, exactly-once watermarks, merge tombstone, and what the person stage
keeps (profile, sessions, windows, rules, clock, recommend: tastemaker/person.py, tastemaker/behaviour.py).

Keyed like ``events_by_person`` (bytes: the changelog key is the person id, which ``table_route`` hashes).
"""

from app.main import app
from tables import SMALL_ROCKSDB, state_value

profiles = app.Table(
    "profiles",
    default=None,
    key_type=bytes,
    value_type=state_value(ids=list, applied=dict, merged_into=(str, type(None))),
    help="Person id -> the person's state: {'ids', 'applied', 'merged_into', 'profile', 'sessions', 'windows', "
         "'rules', 'clock', 'recommend'}.",
    options=SMALL_ROCKSDB,
)
