"""Person -> ids, exactly-once watermarks and behaviour profile (tastemaker/person.py, tastemaker/profile.py).

Keyed like ``events_by_person`` (bytes: the changelog key is the person id, which ``table_route`` hashes).
"""

from app.main import app
from tables import SMALL_ROCKSDB

profiles = app.Table(
    "profiles",
    default=None,
    key_type=bytes,
    help="Person id -> {'ids', 'applied', 'merged_into', 'profile'}.",
    options=SMALL_ROCKSDB,
)
