"""Table definitions, each in its own module, with their store options and the codec of their values.

Every table partition is its own RocksDB database: without limits, tables x partitions x RocksDB's
defaults (3 x 64 MB write buffers, up to 2 GiB block cache) multiply memory. ``SMALL_ROCKSDB`` caps one
partition database of a small table. Through rocksdict, Faust's store applies only max_open_files,
write_buffer_size, max_write_buffer_number, target_file_size_base, block_cache_size, bloom_filter_size and
ttl, and ignores any other option silently: a misspelt option is no limit.

Every table's values are JSON objects, read through a ``StateValue`` (its ``value_type``). A stored value
or a changelog record that is not one (not JSON, not an object, or without the fields the table's readers
rely on: another producer wrote to a changelog topic, or a disk went bad) reads as absent, and is counted,
``skipped:table_value`` in ``GET /stats/ingest`` (each time it is met: once when a memory store recovers it,
on every read from RocksDB, which keeps the bytes until the key is written again). With Faust's own codec
the same record stops the worker instead: faust-streaming 0.15.3 logs "Error in recovery" and does not
count the record as recovered, so when it is the last of its partition, table recovery never ends and the
worker never becomes ready (tests/integration/test_poison.py). Faust's model reconstruction (``__faust``
metadata in a dict) is skipped too: a value is what was stored.
"""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

from app.stage_reports import OUTCOMES

SMALL_ROCKSDB = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
    "max_open_files": 256,
}

STATE_CODEC = "tm_state"


class _StateCodec(codecs.json):
    """Faust's JSON codec (the same bytes are written), whose reading never fails: a value that is not a JSON
    object is None."""

    def _loads(self, s: bytes) -> Any:
        try:
            value = orjson.loads(s)
        except orjson.JSONDecodeError:
            value = None
        if type(value) is dict:
            return value
        OUTCOMES["skipped:table_value"] += 1
        return None


_STATE_CODEC = _StateCodec()
codecs.register(STATE_CODEC, _STATE_CODEC)


class StateValue:
    """The ``value_type`` of a table: its values as the JSON objects they are (``_StateCodec``), when they
    have the fields the table's readers rely on (``shape``: field -> type); else absent, and counted."""

    class _options:
        serializer = STATE_CODEC

    shape: dict[str, type | tuple[type, ...]] = {}

    @classmethod
    def from_data(cls, data: Any, preferred_type: Any = None) -> Any:
        if data is None:
            return None
        for name, kind in cls.shape.items():
            if not isinstance(data.get(name), kind):
                OUTCOMES["skipped:table_value"] += 1
                return None
        return data


def state_value(**shape: type | tuple[type, ...]) -> type[StateValue]:
    """The ``value_type`` of a table whose values have these fields (a value without them reads as absent)."""
    return type("StateValue", (StateValue,), {"shape": shape})


def decode_state(value_type: type[StateValue], raw: bytes) -> Any:
    """A stored value as a table read through Faust gives it: the codec, then the value type's shape."""
    return value_type.from_data(_STATE_CODEC._loads(raw))
