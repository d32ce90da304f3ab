"""A table read and written by an agent one bundle at a time: reads straight from the partition's store,
writes staged in memory and written together when the agent has finished the bundle.

    agent, per bundle record:  get(key) ─▶ staged value, else the store of the record's partition
                               t[key] = value / del t[key] ─▶ staged (the last write of a key wins)
                               await t.write() ─▶ each staged key once: the store of the record's partition
                                                  (one RocksDB write batch), and one changelog record each
                                                  (raw bytes, straight to Faust's Kafka producer)

Faust writes a table key by key: every ``table[key] = value`` serializes the value twice, writes RocksDB,
builds a ``FutureMessage`` through the topic, channel and producer buffer, and writes the persisted offset
back to RocksDB when Kafka acknowledges it: about 150 us of CPU per write on these machines (~60% of a
bare Faust agent's cost per event). Here a key costs one JSON encoding, one batched put and one send to the
aiokafka producer Faust itself uses, and the persisted offset is written once per partition and bundle.

What Faust's recovery relies on is kept as Faust writes it: the changelog topic, its key (the key's UTF-8
bytes: the tables are ``key_type=bytes``), its value (the table codec's JSON, ``tables/__init__.py``), a
tombstone for a delete, the partition (the agent's record's own, as ``Table.partition_for_key``), and the
persisted offset in each partition database. Faust flushes that same producer before it commits the
source offsets (``Consumer._commit_offsets``), so no offset is committed before the changelog records of the
bundles it covers are in Kafka; and the store is written before the changelog, as Faust does: a worker
killed in between keeps a write its changelog does not have yet, which the stages' exactly-once watermarks
account for (tastemaker/delivery.py).

The values of recently active keys are kept decoded (``recent``): a person's next record does not decode
their state again. Web views read the table through Faust as before (``table.get``): they see a bundle's writes once
``write`` has run, a few milliseconds after the bundle's first item was applied.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP
from rocksdict import WriteBatch

from tables import decode_state

_DELETED = object()


class BatchedTable:
    """The agent's view of one Faust table (``key_type=bytes``, a ``tables.StateValue`` value type): keys are
    str, and every call names the partition the key lives in (the agent's record's partition)."""

    def __init__(self, table, recent: int = 0) -> None:
        self.table = table
        self._staged: dict[int, dict[str, Any]] = {}  # partition -> key -> value, or _DELETED
        # The values last read or written, decoded, for at most ``recent`` keys: the next record of an active
        # person skips decoding its state. Only this worker writes its partitions, so a kept value is the
        # stored one until the partitions move (``forget``).
        self.recent = recent
        self._recent: OrderedDict[tuple[int, str], Any] = OrderedDict()

    def get(self, key: str, partition: int) -> Any:
        """The value of ``key`` as the staged writes left it, else as stored in ``partition``; or None."""
        staged = self._staged.get(partition)
        if staged is not None and key in staged:
            value = staged[key]
            return None if value is _DELETED else value
        if self.recent:
            value = self._recent.get((partition, key))
            if value is not None:
                self._recent.move_to_end((partition, key))
                return value
        store = self.table.data
        if isinstance(store, RocksDBStore):
            raw = store._db_for_partition(partition).get(key.encode())
            value = None if raw is None else decode_state(self.table.value_type, raw)
        else:
            value = store.data.get(key)  # the memory store keeps the values themselves
        if value is not None and self.recent:
            self._keep(partition, key, value)
        return value

    def _keep(self, partition: int, key: str, value: Any) -> None:
        self._recent[(partition, key)] = value
        self._recent.move_to_end((partition, key))
        if len(self._recent) > self.recent:
            self._recent.popitem(last=False)

    def forget(self) -> None:
        """Partitions may have moved (a rebalance): what is kept may be older than what is stored now."""
        self._recent.clear()

    def set(self, key: str, value: dict, partition: int) -> None:
        self._staged.setdefault(partition, {})[key] = value

    def delete(self, key: str, partition: int) -> None:
        """Staged as a tombstone when the key has a value (in the store or staged); else nothing to do."""
        if self.get(key, partition) is not None:
            self._staged.setdefault(partition, {})[key] = _DELETED

    async def write(self) -> None:
        """Write every staged key, per partition the store then the changelog; the changelog sends are
        buffered in the producer, whose flush before each offset commit waits for them."""
        staged, self._staged = self._staged, {}
        for partition, values in staged.items():
            if self.recent:
                for key, value in values.items():
                    if value is _DELETED:
                        self._recent.pop((partition, key), None)
                    else:
                        self._keep(partition, key, value)
            await self._write(partition, values)

    async def _write(self, partition: int, values: dict[str, Any]) -> None:
        table = self.table
        store = table.data
        topic = table.changelog_topic.get_topic_name()
        encoded = [(key.encode(), None if value is _DELETED else orjson.dumps(value)) for key, value in values.items()]
        if isinstance(store, RocksDBStore):
            batch = WriteBatch(raw_mode=True)
            for key, value in encoded:
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            store._db_for_partition(partition).write(batch)
        else:
            for name, value in values.items():
                if value is _DELETED:
                    store.data.pop(name, None)
                    store._key_partition.pop(name, None)
                else:
                    store.data[name] = value
                    store._key_partition[name] = partition
        producer = table.app.producer._ensure_producer()
        last = None
        for key, value in encoded:
            last = await producer.send(topic, value=value, key=key, partition=partition)
        if last is not None and isinstance(store, RocksDBStore):
            last.add_done_callback(lambda sent: _persisted(store, TP(topic, partition), sent))


def _persisted(store: RocksDBStore, tp: TP, sent) -> None:
    """The offset of the partition's last changelog record, once Kafka has it: recovery reads on from there."""
    if not sent.cancelled() and sent.exception() is None:
        store.set_persisted_offset(tp, sent.result().offset)
