"""Bundles: items grouped by their key's partition, cut by count and size, read back unchanged."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from tastemaker import bundles
from tastemaker.delivery import SourcePosition


def test_items_go_to_their_keys_partition_and_come_back_unchanged():
    writer = bundles.BundleWriter(8)
    entries = [bundles.item(f"person-{n}", {"n": n}, SourcePosition("clickstream", n % 3, n, f"id-{n}"))
               for n in range(200)]
    for entry in entries:
        writer.add(entry)
    assert len(writer) == 200
    kafka = DefaultPartitioner()
    seen = []
    for partition, first_key, value in writer.bundles():
        items = bundles.unpack(value)
        assert items[0]["key"] == first_key
        for entry in items:
            assert kafka(entry["key"].encode(), list(range(8)), list(range(8))) == partition
        seen += items
    assert sorted(seen, key=lambda e: e["body"]["n"]) == entries
    assert bundles.source_of(entries[5]) == SourcePosition("clickstream", 2, 5, "id-5")
    assert len(writer) == 0  # drained


def test_bundles_are_cut_by_item_count_and_by_bytes(monkeypatch):
    monkeypatch.setattr(bundles, "MAX_ITEMS", 10)
    writer = bundles.BundleWriter(1)
    for n in range(25):
        writer.add(bundles.item("k", {"n": n}))
    assert [len(bundles.unpack(v)) for _, _, v in writer.bundles()] == [10, 10, 5]
    monkeypatch.setattr(bundles, "MAX_BYTES", 1000)
    for n in range(30):
        writer.add(bundles.item("k", {"pad": "x" * 200, "n": n}))
    sizes = [len(v) for _, _, v in writer.bundles()]
    assert len(sizes) > 1 and all(size <= 1000 + 20 for size in sizes)


def test_item_positions_increase_within_a_partition():
    a = bundles.position_in_bundle("t", 0, 7, bundles.MAX_ITEMS - 1)
    b = bundles.position_in_bundle("t", 0, 8, 0)
    assert a.offset < b.offset


def test_a_record_that_is_no_bundle_is_refused():
    for raw in (b"", b"[]", b'{"items": 3}', b"not json"):
        with pytest.raises(ValueError):
            bundles.unpack(raw)
