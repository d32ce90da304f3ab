"""aiokafka's default partitioner with the key hash cached.

aiokafka hashes keys with a pure-Python murmur2 (~3.4 us per record): a tenth of the collector's per-event
budget, spent again for every event of a user already seen. Same hash, same partition as aiokafka's
``DefaultPartitioner`` (Kafka's Java client too), so records and table routing land where they always did.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import DefaultPartitioner, murmur2

_murmur2 = lru_cache(maxsize=65536)(murmur2)  # bounded: recent keys only
_default = DefaultPartitioner()


def cached_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    if key is None:
        return _default(key, all_partitions, available)  # random choice, as before
    return all_partitions[(_murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
