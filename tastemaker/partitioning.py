"""Which partition a key lands on: Kafka's default partitioner (murmur2 of the key bytes), hash cached.

aiokafka hashes keys with a pure-Python murmur2 (~3.4 µs per key), spent again for every record of a key
already seen; the cache keeps recent keys only. Same hash as aiokafka's ``DefaultPartitioner`` and Kafka's
Java client, so records, bundles (tastemaker/bundles.py) and ``table_route`` agree on every key's partition.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2

_murmur2 = lru_cache(maxsize=65536)(murmur2)


def partition_for(key: bytes, partitions: int) -> int:
    return (_murmur2(key) & 0x7FFFFFFF) % partitions
