"""Person -> ids, exactly-once watermarks and behaviour profile (tastemaker/person.py, tastemaker/profile.py).

Keyed like ``events_by_person`` (bytes: the changelog key is the person id, which ``table_route`` hashes).
"""

from app.main import app
from tables import SMALL_ROCKSDB, state_value

profiles = app.Table(
    "profiles",
    default=None,
    key_type=bytes,
    value_type=state_value(ids=list, applied=dict, merged_into=(str, type(None))),
    help="Person id -> {'ids', 'applied', 'merged_into', 'profile'}.",
    options=SMALL_ROCKSDB,
)
