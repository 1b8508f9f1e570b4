"""Shards: ``I/N`` splits a tenant's archive among N workers by key prefix.

A package id is 64 hex digits (the manifest's SHA-256) and a batch id ends in 32 random hex
digits (``YYYYMMDDTHHMMSSZ-<hex>``); both are uniform, so their first eight hex digits, read as
a number ``v`` in ``[0, 2^32)``, give the shard ``v * N >> 32``: shard ``I`` owns the ``I``-th of
N equal ranges of key prefixes. ``renew --shard I/N`` and ``verify --all --shard I/N`` take
only their own batches (verification goes batch by batch, each batch's trees built once);
:func:`package_ids_in` lists only a shard's range of ``TENANT/packages/`` (a listing that starts
just before the range's first key and stops past its last) for tools that walk packages. A batch
id without the hex part (written by hand) falls back to the SHA-256 of the id.

Workers of different N may overlap; that costs work, never correctness: every renewal entry is
claimed write-once as the one successor of the entry it extends (:mod:`archive.renew`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from archive.errors import ArchiveInputError
from archive.package import DEFAULT_TENANT, tenant_prefix
from archive.store import ObjectStore

__all__ = ["Shard", "package_ids_in"]

_HEX8 = re.compile(r"^[0-9a-f]{8}")
_ID = re.compile(r"^[0-9a-f]{64}$")
_SPACE = 1 << 32


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based): the ``index``-th of ``count`` prefix ranges."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count or self.count > 4096:
            raise ArchiveInputError(
                f"bad shard {self.index}/{self.count} (use I/N with 0 <= I < N <= 4096)")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` -> Shard; :class:`ArchiveInputError` naming the text otherwise."""
        index, slash, count = text.strip().partition("/")
        if not slash or not index.isdigit() or not count.isdigit():
            raise ArchiveInputError(f"bad shard {text!r} (use I/N, e.g. 0/4)")
        return cls(int(index), int(count))

    @property
    def label(self) -> str:
        """``I-of-N``, for lease keys and file names."""
        return f"{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def of_hex(self, text: str) -> int:
        """The shard a hex key (first eight digits) falls in."""
        return int(text[:8], 16) * self.count >> 32

    def owns_package(self, package_id: str) -> bool:
        return self.of_hex(package_id) == self.index

    def owns_batch(self, batch: str) -> bool:
        random_part = batch.rpartition("-")[2]
        if not _HEX8.match(random_part):
            random_part = hashlib.sha256(batch.encode()).hexdigest()
        return self.of_hex(random_part) == self.index

    def bounds(self) -> tuple[str, str | None]:
        """The first 8-hex-digit prefix of the range and the first one past it (None: the
        range runs to ``ffffffff``)."""
        low = -(-self.index * _SPACE // self.count)  # ceil: the first v with v*N>>32 == I
        high = -(-(self.index + 1) * _SPACE // self.count)
        return f"{low:08x}", (f"{high:08x}" if high < _SPACE else None)


def package_ids_in(store: ObjectStore, shard: Shard | None, *,
                   tenant: str = DEFAULT_TENANT) -> Iterator[str]:
    """The tenant's package ids in ``shard`` (all of them for None), in key order, listing only
    the shard's range of keys."""
    prefix = f"{tenant_prefix(tenant)}packages/"
    low, high = shard.bounds() if shard is not None else ("", None)
    # every key of the range sorts after "<prefix><low - 1 digit>…": start just before low
    start = prefix + _before(low) if low and low != "00000000" else ""
    for info in store.list(prefix, start_after=start):
        name = info.key[len(prefix):]
        if high is not None and name >= high:
            return
        if name.endswith(".json") and _ID.match(name[:-5]) and (
                shard is None or shard.owns_package(name)):
            yield name[:-5]


def _before(low: str) -> str:
    """A key that sorts before every id starting with ``low`` and after every smaller one."""
    value = int(low, 16) - 1
    return f"{value:08x}" + "g"  # 'g' sorts after every hex digit: past all ids of value
