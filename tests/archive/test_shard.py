"""Shards (``--shard I/N``): every key falls in exactly one shard, the ranges are contiguous and
equal, and a shard's listing of package ids reads only its own range."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from archive.errors import ArchiveInputError
from archive.memory import MemoryStore
from archive.shard import Shard, package_ids_in


@pytest.mark.parametrize("text", ["", "1", "2/2", "-1/2", "a/b", "1/0", "0/5000", "1/2/3"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ArchiveInputError) as info:
        Shard.parse(text)
    assert text in str(info.value) or "0 <= I < N" in str(info.value)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_ranges_cover_every_prefix_once(count: int) -> None:
    shards = [Shard(i, count) for i in range(count)]
    assert shards[0].bounds()[0] == "00000000"
    assert shards[-1].bounds()[1] is None
    for left, right in itertools.pairwise(shards):
        assert left.bounds()[1] == right.bounds()[0]  # contiguous
    for shard in shards:
        low, high = shard.bounds()
        assert shard.owns_package(low + "0" * 56)
        last = f"{int(high, 16) - 1:08x}" if high else "ffffffff"
        assert shard.owns_package(last + "f" * 56)
    for n in range(2000):
        key = hashlib.sha256(str(n).encode()).hexdigest()
        assert sum(s.owns_package(key) for s in shards) == 1
        batch = f"20260101T000000Z-{key[:32]}"
        assert sum(s.owns_batch(batch) for s in shards) == 1
    assert sum(s.owns_batch("hand-written") for s in shards) == 1


def test_a_shard_lists_only_its_own_package_ids() -> None:
    store = MemoryStore()
    ids = sorted(hashlib.sha256(str(n).encode()).hexdigest() for n in range(300))
    for pid in ids:
        store.put(f"default/packages/{pid}.json", b"{}")
    store.put("default/packages/not-an-id.json", b"{}")
    parts = [list(package_ids_in(store, Shard(i, 3))) for i in range(3)]
    assert sorted(pid for part in parts for pid in part) == ids
    for i, part in enumerate(parts):
        assert part == sorted(part)
        assert all(Shard(i, 3).owns_package(pid) for pid in part)
        assert 60 < len(part) < 140  # uniform ids: about a third each
    assert list(package_ids_in(store, None)) == ids
