"""RFC 4998 Evidence Record Syntax: hash trees, archive timestamps, renewal and verification.

Pure code over bytes: no store, no network, no clock. Timestamps come in through a
``timestamper(digest, algorithm) -> token DER`` port (an RFC 3161 ``TimeStampToken``, i.e. a CMS
``ContentInfo``) and are checked through a ``verify_timestamp(token, digest, algorithm) ->
genTime`` port, so :mod:`ltv.timestamps` or any TSA client plugs in from outside.

The pieces, with the clauses they follow (STANDARDS.md §2.10 has a worked vector):

* :func:`build_hash_tree` / :func:`compute_root` — RFC 4998 §4.2 generation and §4.3 step 3
  verification: binary tree, the hashes of a node's children sorted in binary ascending order
  and concatenated before hashing, a node without sibling carried up unchanged.
* :class:`ArchiveTimestamp`, :class:`EvidenceRecord` — the ASN.1 of §3 and §4.1, DER in and out.
* :func:`new_evidence_records` — one timestamp over a batch root (§4.2).
* :func:`renew_timestamp` / :func:`renew_timestamps` — timestamp renewal (§5.2): the new
  archive timestamp covers the hash of the DER of the previous one's ``timeStamp`` and joins
  the same chain; the batch variant covers many records with one timestamp.
* :func:`renew_hash_tree` / :func:`renew_hash_trees` — hash-tree renewal (§5.2): a new chain
  whose leaves are ``H'(H'(d) || H'(ArchiveTimeStampSequence))`` — plain, unsorted
  concatenation, as the RFC text says (its Figure 4 is wrong; DSS and BouncyCastle agree).
* :func:`verify_evidence_record` — §5.3: every chain, every archive timestamp.

Errors: :class:`~ltv.errors.MalformedError` for undecodable input,
:class:`~ltv.errors.InputError` for a record that does not prove the data,
:class:`~ltv.errors.TimestampError` for a timestamper answering over the wrong digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from asn1crypto import algos, cms, core
from asn1crypto import tsp as asn1_tsp

from ltv.algorithms import DigestAlgorithm
from ltv.errors import InputError, MalformedError, TimestampError

__all__ = [
    "ArchiveTimestamp",
    "EvidenceRecord",
    "HashTree",
    "TimestampVerifier",
    "Timestamper",
    "build_hash_tree",
    "compute_root",
    "new_evidence_records",
    "renew_hash_tree",
    "renew_hash_trees",
    "renew_timestamp",
    "renew_timestamps",
    "renew_timestamps_der",
    "timestamp_imprint",
    "verify_evidence_record",
]

Timestamper = Callable[[bytes, DigestAlgorithm], bytes]
"""``timestamper(digest, algorithm)`` returns an RFC 3161 token (ContentInfo DER) over digest."""

TimestampVerifier = Callable[[bytes, bytes, DigestAlgorithm], datetime]
"""``verify_timestamp(token, digest, algorithm)`` checks the token and returns its genTime."""

#: Largest number of leaves put under one timestamp by the batch functions (a tree of 2**18
#: leaves has reduced hash trees of 18 levels, about 600 bytes per record with SHA-256).
MAX_LEAVES_PER_TIMESTAMP = 1 << 18


# --- ASN.1 (RFC 4998 §3, §4.1) ------------------------------------------------------------


class _PartialHashtree(core.SequenceOf):  # type: ignore[misc]
    """PartialHashtree ::= SEQUENCE OF OCTET STRING"""

    _child_spec = core.OctetString


class _ReducedHashtree(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _PartialHashtree


class _Attribute(core.Sequence):  # type: ignore[misc]
    """Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF ANY } (RFC 5652)"""

    _fields: ClassVar[list[Any]] = [
        ("type", core.ObjectIdentifier),
        ("values", core.SetOf, {"spec": core.Any}),
    ]


class _Attributes(core.SetOf):  # type: ignore[misc]
    _child_spec = _Attribute


class _CryptoInfos(core.SequenceOf):  # type: ignore[misc]
    """CryptoInfos ::= SEQUENCE SIZE (1..MAX) OF Attribute"""

    _child_spec = _Attribute


class _EncryptionInfo(core.Sequence):  # type: ignore[misc]
    """EncryptionInfo ::= SEQUENCE { encryptionInfoType OBJECT IDENTIFIER,
    encryptionInfoValue ANY DEFINED BY encryptionInfoType }"""

    _fields: ClassVar[list[Any]] = [("type", core.ObjectIdentifier), ("value", core.Any)]


class _ArchiveTimeStamp(core.Sequence):  # type: ignore[misc]
    """ArchiveTimeStamp ::= SEQUENCE { digestAlgorithm [0] AlgorithmIdentifier OPTIONAL,
    attributes [1] Attributes OPTIONAL, reducedHashtree [2] SEQUENCE OF PartialHashtree
    OPTIONAL, timeStamp ContentInfo } -- all tags IMPLICIT (the module's default)"""

    _fields: ClassVar[list[Any]] = [
        ("digest_algorithm", algos.DigestAlgorithm, {"implicit": 0, "optional": True}),
        ("attributes", _Attributes, {"implicit": 1, "optional": True}),
        ("reduced_hashtree", _ReducedHashtree, {"implicit": 2, "optional": True}),
        # ContentInfo (RFC 5652 §3) holding an RFC 3161 TimeStampToken; kept as its DER and
        # decoded only when needed (timestamp_imprint), which keeps parsing cheap
        ("time_stamp", core.Any),
    ]


class _ArchiveTimeStampChain(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _ArchiveTimeStamp


class _ArchiveTimeStampSequence(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _ArchiveTimeStampChain


class _DigestAlgorithms(core.SequenceOf):  # type: ignore[misc]
    _child_spec = algos.DigestAlgorithm


class _EvidenceRecord(core.Sequence):  # type: ignore[misc]
    """EvidenceRecord ::= SEQUENCE { version INTEGER { v1(1) }, digestAlgorithms SEQUENCE OF
    AlgorithmIdentifier, cryptoInfos [0] CryptoInfos OPTIONAL, encryptionInfo [1]
    EncryptionInfo OPTIONAL, archiveTimeStampSequence ArchiveTimeStampSequence }"""

    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("digest_algorithms", _DigestAlgorithms),
        ("crypto_infos", _CryptoInfos, {"implicit": 0, "optional": True}),
        ("encryption_info", _EncryptionInfo, {"implicit": 1, "optional": True}),
        ("archive_time_stamp_sequence", _ArchiveTimeStampSequence),
    ]


# --- minimal DER writer (the structures above are simple; this keeps renewal of millions of
# records cheap). from_der parses with asn1crypto; tests check both agree. ----------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _seq(items: Sequence[bytes], tag: int = 0x30) -> bytes:
    return _tlv(tag, b"".join(items))


def _alg_der(algorithm: DigestAlgorithm) -> bytes:
    """AlgorithmIdentifier with absent parameters (RFC 5754 §2)."""
    return _ALG_DER[algorithm]


def _oid_der(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


_ALG_DER = {alg: _seq([_oid_der(alg.oid)]) for alg in DigestAlgorithm}
_SIGNED_DATA_OID = _oid_der("1.2.840.113549.1.7.2")


def _der_length_ok(der: bytes) -> None:
    if not isinstance(der, (bytes, bytearray)) or len(der) < 2:
        raise MalformedError("an evidence record must be DER bytes")


# --- hash trees (RFC 4998 §4.2, §4.3) -----------------------------------------------------


def _node(algorithm: DigestAlgorithm, values: Sequence[bytes]) -> bytes:
    """A parent node: children sorted in binary ascending order, concatenated, hashed; a
    single child is carried up unchanged (RFC 4998 §4.2 steps 4–5, §4.3 step 3)."""
    if len(values) == 1:
        return values[0]
    return hashlib.new(algorithm.value, b"".join(sorted(values))).digest()


@dataclass(frozen=True, slots=True)
class HashTree:
    """A binary hash tree over leaf hashes (RFC 4998 §4.2).

    ``root`` is what the timestamp covers; :meth:`reduced_for` is the leaf's reduced hash tree.
    """

    algorithm: DigestAlgorithm
    leaves: tuple[bytes, ...]
    levels: tuple[tuple[bytes, ...], ...] = field(repr=False)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def reduced_for(self, index: int) -> tuple[tuple[bytes, ...], ...]:
        """The PartialHashtree sequence for leaf ``index`` (RFC 4998 §4.2, "reduced hash tree").

        The first list holds the leaf and its sibling, in binary ascending order; each later
        list the sibling of the node computed so far; levels where the node has no sibling
        (carried up) add nothing. A tree of one leaf has an empty reduced tree (the timestamp
        covers the leaf itself).
        """
        if not 0 <= index < len(self.leaves):
            raise IndexError(f"leaf {index} out of range 0..{len(self.leaves) - 1}")
        path: list[tuple[bytes, ...]] = []
        position = index
        for level in self.levels[:-1]:
            sibling = position ^ 1
            if sibling < len(level):
                if not path:
                    path.append(tuple(sorted((level[position], level[sibling]))))
                else:
                    path.append((level[sibling],))
            position //= 2
        if not path and len(self.leaves) == 1:
            return ()
        return tuple(path)


def build_hash_tree(leaves: Sequence[bytes], algorithm: DigestAlgorithm) -> HashTree:
    """Build the RFC 4998 §4.2 tree (n = 2) over leaf hashes.

    Each leaf is the hash of a data object, or for a data group the hash of its members'
    sorted, concatenated hashes (§4.2 step 3; :func:`group_hash`). Neighbours are paired in the
    given order; an odd last node is carried up unchanged.
    """
    if not leaves:
        raise InputError("a hash tree needs at least one leaf")
    size = algorithm.digest_size
    for leaf in leaves:
        if not isinstance(leaf, (bytes, bytearray)) or len(leaf) != size:
            raise InputError(f"each leaf must be a {algorithm.value} hash of {size} bytes")
    level = tuple(bytes(leaf) for leaf in leaves)
    levels = [level]
    new = hashlib.new
    name = algorithm.value
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            a, b = level[i], level[i + 1]
            nxt.append(new(name, a + b if a <= b else b + a).digest())
        if len(level) % 2:
            nxt.append(level[-1])
        level = tuple(nxt)
        levels.append(level)
    return HashTree(algorithm=algorithm, leaves=levels[0], levels=tuple(levels))


def group_hash(member_hashes: Sequence[bytes], algorithm: DigestAlgorithm) -> bytes:
    """The leaf of a data group: its members' hashes sorted, concatenated, hashed (§4.2 step 3).

    A group of one is its member's hash.
    """
    if not member_hashes:
        raise InputError("a data group needs at least one data object")
    return _node(algorithm, list(member_hashes))


def compute_root(
    leaf_hash: bytes, reduced: Sequence[Sequence[bytes]], algorithm: DigestAlgorithm
) -> bytes:
    """Recompute the root from a leaf and its reduced hash tree (RFC 4998 §4.3 steps 2–3).

    ``leaf_hash`` must be one of the first list's values; each list is then joined with the
    value computed so far, sorted, concatenated and hashed (a single value is carried).
    Raises :class:`InputError` when the leaf is not in the first list.
    """
    if not reduced:
        return leaf_hash
    first = list(reduced[0])
    if leaf_hash not in first:
        raise InputError("the data's hash is not in the first list of the reduced hash tree")
    value = _node(algorithm, first)
    for partial in reduced[1:]:
        value = _node(algorithm, [*partial, value])
    return value


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveTimestamp:
    """One ArchiveTimeStamp (RFC 4998 §4.1).

    ``digest_algorithm`` is ``None`` when the DER leaves it out (then the timestamp's
    messageImprint algorithm applies); ``reduced_hash_tree`` is empty when left out.
    ``attributes`` are DER-encoded Attribute values kept as they came.
    """

    digest_algorithm: DigestAlgorithm | None
    reduced_hash_tree: tuple[tuple[bytes, ...], ...]
    timestamp_der: bytes
    attributes: tuple[bytes, ...] = ()

    def algorithm(self) -> DigestAlgorithm:
        """The hash algorithm of this archive timestamp (§4.1: else the token's)."""
        if self.digest_algorithm is not None:
            return self.digest_algorithm
        return timestamp_imprint(self.timestamp_der)[0]

    def to_der(self) -> bytes:
        parts = []
        if self.digest_algorithm is not None:
            parts.append(_tlv(0xA0, _alg_der(self.digest_algorithm)[2:]))
        if self.attributes:
            parts.append(_seq(sorted(self.attributes), 0xA1))
        if self.reduced_hash_tree:
            parts.append(
                _seq(
                    [
                        _seq([_tlv(0x04, value) for value in partial])
                        for partial in self.reduced_hash_tree
                    ],
                    0xA2,
                )
            )
        parts.append(self.timestamp_der)
        return _seq(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceRecord:
    """An RFC 4998 EvidenceRecord (§3): chains of archive timestamps, oldest first.

    ``crypto_infos`` holds DER Attribute values and ``encryption_info`` the DER of the
    EncryptionInfo SEQUENCE, both kept as they came (we produce neither).
    """

    digest_algorithms: tuple[DigestAlgorithm, ...]
    chains: tuple[tuple[ArchiveTimestamp, ...], ...]
    crypto_infos: tuple[bytes, ...] = ()
    encryption_info: bytes | None = None

    def __post_init__(self) -> None:
        if not self.chains or any(not chain for chain in self.chains):
            raise InputError("an evidence record needs at least one non-empty chain")

    def sequence_der(self, chains: int | None = None) -> bytes:
        """DER of the ArchiveTimeStampSequence (of the first ``chains`` chains)."""
        chosen = self.chains if chains is None else self.chains[:chains]
        return _seq([_seq([ats.to_der() for ats in chain]) for chain in chosen])

    def to_der(self) -> bytes:
        parts = [
            b"\x02\x01\x01",
            _seq([_alg_der(alg) for alg in self.digest_algorithms]),
        ]
        if self.crypto_infos:
            parts.append(_seq(list(self.crypto_infos), 0xA0))
        if self.encryption_info is not None:
            if self.encryption_info[:1] != b"\x30":
                raise InputError("encryption_info must be the DER of a SEQUENCE")
            parts.append(b"\xa1" + self.encryption_info[1:])
        parts.append(self.sequence_der())
        return _seq(parts)

    @classmethod
    def from_der(cls, der: bytes) -> EvidenceRecord:
        """Parse a DER EvidenceRecord; :class:`MalformedError` on anything else."""
        _der_length_ok(der)
        try:
            parsed = _EvidenceRecord.load(bytes(der), strict=True)
            return _from_asn1(parsed)
        except (MalformedError, InputError):
            raise
        except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError, ...
            raise MalformedError(f"not an RFC 4998 EvidenceRecord: {exc}") from exc

    @property
    def last(self) -> ArchiveTimestamp:
        return self.chains[-1][-1]


def _absent(value: Any) -> bool:
    return isinstance(value, core.Void)


def _algorithm_of(asn1_alg: Any) -> DigestAlgorithm:
    return DigestAlgorithm.from_oid(asn1_alg["algorithm"].dotted)


def _from_asn1(parsed: Any) -> EvidenceRecord:
    if parsed["version"].native != 1:  # v1(1), RFC 4998 §3
        raise MalformedError(f"evidence record version {parsed['version'].native}, expected 1")
    algorithms = tuple(_algorithm_of(a) for a in parsed["digest_algorithms"])
    chains = []
    for chain in parsed["archive_time_stamp_sequence"]:
        items = []
        for ats in chain:
            alg_field = ats["digest_algorithm"]
            digest_algorithm = None if _absent(alg_field) else _algorithm_of(alg_field)
            reduced: tuple[tuple[bytes, ...], ...] = ()
            if not _absent(ats["reduced_hashtree"]):
                reduced = tuple(
                    tuple(v.contents for v in partial) for partial in ats["reduced_hashtree"]
                )
                if any(not partial for partial in reduced):
                    raise MalformedError("an empty PartialHashtree in a reduced hash tree")
            attributes: tuple[bytes, ...] = ()
            if not _absent(ats["attributes"]):
                attributes = tuple(a.dump() for a in ats["attributes"])
            token = ats["time_stamp"]
            token_der = token.dump()
            if not token_der.startswith(b"\x30") or _SIGNED_DATA_OID not in token_der[:16]:
                raise MalformedError("an archive timestamp's timeStamp is not CMS SignedData")
            items.append(
                ArchiveTimestamp(
                    digest_algorithm=digest_algorithm,
                    reduced_hash_tree=reduced,
                    timestamp_der=token_der,
                    attributes=attributes,
                )
            )
        if not items:
            raise MalformedError("an empty ArchiveTimeStampChain")
        chains.append(tuple(items))
    if not chains:
        raise MalformedError("an empty ArchiveTimeStampSequence")
    crypto_infos: tuple[bytes, ...] = ()
    if not _absent(parsed["crypto_infos"]):
        crypto_infos = tuple(a.dump() for a in parsed["crypto_infos"])
    encryption_info = None
    if not _absent(parsed["encryption_info"]):
        raw = parsed["encryption_info"].untag().dump(force=True)
        encryption_info = raw
    return EvidenceRecord(
        digest_algorithms=algorithms,
        chains=tuple(chains),
        crypto_infos=crypto_infos,
        encryption_info=encryption_info,
    )


def timestamp_imprint(token_der: bytes) -> tuple[DigestAlgorithm, bytes, datetime]:
    """The (hash algorithm, hashed message, genTime) inside an RFC 3161 token (RFC 3161 §2.4.2).

    Only decodes; the signature is checked by the ``verify_timestamp`` port.
    """
    try:
        info = cms.ContentInfo.load(token_der)
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise MalformedError("the timestamp token does not carry a TSTInfo")
        tst = encap["content"].parsed
        if not isinstance(tst, asn1_tsp.TSTInfo):
            tst = asn1_tsp.TSTInfo.load(encap["content"].contents)
        imprint = tst["message_imprint"]
        algorithm = DigestAlgorithm.from_oid(imprint["hash_algorithm"]["algorithm"].dotted)
        return algorithm, bytes(imprint["hashed_message"].native), tst["gen_time"].native
    except (MalformedError, InputError):
        raise
    except Exception as exc:
        raise MalformedError(f"not an RFC 3161 timestamp token: {exc}") from exc


# --- creation (RFC 4998 §4.2) --------------------------------------------------------------


def _stamp(root: bytes, algorithm: DigestAlgorithm, timestamper: Timestamper) -> bytes:
    token = timestamper(root, algorithm)
    alg, imprint, _ = timestamp_imprint(token)
    if imprint != root or alg is not algorithm:
        raise TimestampError("the timestamper answered with a token over another digest")
    return token


def _chunks(count: int, size: int) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def new_evidence_records(
    data_object_groups: Sequence[Sequence[bytes]],
    *,
    algorithm: DigestAlgorithm,
    timestamper: Timestamper,
    max_leaves: int = MAX_LEAVES_PER_TIMESTAMP,
) -> list[EvidenceRecord]:
    """One evidence record per data group, all under one timestamp per ``max_leaves`` groups.

    A group of one object has the leaf ``H(d)``; a larger group puts its members' hashes in
    the first PartialHashtree and the group node is the leaf (RFC 4998 §4.2 step 3), so each
    member can later be shown alone.
    """
    member_hashes = []
    for group in data_object_groups:
        if not group:
            raise InputError("each data group needs at least one data object")
        member_hashes.append([algorithm.digest(bytes(d)) for d in group])
    return _records_for(member_hashes, algorithm, timestamper, max_leaves, previous=None)


def _records_for(
    member_hashes: Sequence[Sequence[bytes]],
    algorithm: DigestAlgorithm,
    timestamper: Timestamper,
    max_leaves: int,
    previous: Sequence[EvidenceRecord] | None,
) -> list[EvidenceRecord]:
    if max_leaves < 1:
        raise InputError("max_leaves must be at least 1")
    out: list[EvidenceRecord] = []
    for chunk in _chunks(len(member_hashes), max_leaves):
        leaves = [group_hash(member_hashes[i], algorithm) for i in chunk]
        tree = build_hash_tree(leaves, algorithm)
        token = _stamp(tree.root, algorithm, timestamper)
        for offset, i in enumerate(chunk):
            members = member_hashes[i]
            path = tree.reduced_for(offset)
            if len(members) > 1:
                # first list: the members (§4.2 step 3); then the group node's sibling and the
                # upper levels
                reduced: tuple[tuple[bytes, ...], ...] = (tuple(sorted(members)),)
                if path:
                    sibling = list(path[0])
                    sibling.remove(leaves[offset])
                    reduced = (*reduced, tuple(sibling), *path[1:])
            else:
                reduced = path
            ats = ArchiveTimestamp(
                digest_algorithm=algorithm, reduced_hash_tree=reduced, timestamp_der=token
            )
            if previous is None:
                out.append(EvidenceRecord(digest_algorithms=(algorithm,), chains=((ats,),)))
            else:
                record = previous[i]
                algs = record.digest_algorithms
                if algorithm not in algs:
                    algs = (*algs, algorithm)
                out.append(
                    EvidenceRecord(
                        digest_algorithms=algs,
                        chains=(*record.chains, (ats,)),
                        crypto_infos=record.crypto_infos,
                        encryption_info=record.encryption_info,
                    )
                )
    return out


# --- renewal (RFC 4998 §5.2) ---------------------------------------------------------------


def _chain_algorithm(chain: Sequence[ArchiveTimestamp]) -> DigestAlgorithm:
    algorithms = {ats.algorithm() for ats in chain}
    if len(algorithms) != 1:
        raise InputError("the archive timestamps of one chain use different hash algorithms")
    return algorithms.pop()


def renew_timestamp(record: EvidenceRecord, *, timestamper: Timestamper) -> EvidenceRecord:
    """Timestamp renewal of one record (RFC 4998 §5.2): a new archive timestamp over the hash of
    the DER of the last ``timeStamp``, appended to the last chain, same hash algorithm."""
    return renew_timestamps([record], timestamper=timestamper)[0]


def renew_timestamps(
    records: Sequence[EvidenceRecord],
    *,
    timestamper: Timestamper,
    max_leaves: int = MAX_LEAVES_PER_TIMESTAMP,
) -> list[EvidenceRecord]:
    """Timestamp renewal of many records with one timestamp per hash algorithm and batch.

    The leaves are the distinct hashes of the records' last ``timeStamp`` DER (records from one
    ingest batch share their last timestamp, so a million records may make a handful of
    leaves). Each record gets an archive timestamp with its leaf's reduced hash tree
    (RFC 4998 §5.2, timestamp renewal; the tree as in §4.2).
    """
    if max_leaves < 1:
        raise InputError("max_leaves must be at least 1")
    by_algorithm: dict[DigestAlgorithm, dict[bytes, list[int]]] = {}
    for index, record in enumerate(records):
        last = record.last
        algorithm = last.algorithm()
        leaf = hashlib.new(algorithm.value, last.timestamp_der).digest()
        by_algorithm.setdefault(algorithm, {}).setdefault(leaf, []).append(index)
    renewed: list[EvidenceRecord | None] = [None] * len(records)
    for indices, ats in _stamp_leaf_groups(by_algorithm, max_leaves, timestamper):
        for index in indices:
            record = records[index]
            renewed[index] = EvidenceRecord(
                digest_algorithms=record.digest_algorithms,
                chains=(*record.chains[:-1], (*record.chains[-1], ats)),
                crypto_infos=record.crypto_infos,
                encryption_info=record.encryption_info,
            )
    return [r for r in renewed if r is not None]


def _stamp_leaf_groups(
    by_algorithm: dict[DigestAlgorithm, dict[bytes, list[int]]],
    max_leaves: int,
    timestamper: Timestamper,
) -> Iterator[tuple[list[int], ArchiveTimestamp]]:
    """One hash tree and one timestamp per algorithm and chunk of leaves (RFC 4998 §4.2/§5.2);
    yields, per leaf, the record indices sharing it and their new ArchiveTimestamp."""
    for algorithm, groups in by_algorithm.items():
        leaves = list(groups)
        for chunk in _chunks(len(leaves), max_leaves):
            part = [leaves[i] for i in chunk]
            tree = build_hash_tree(part, algorithm)
            token = _stamp(tree.root, algorithm, timestamper)
            for offset, leaf in enumerate(part):
                yield groups[leaf], ArchiveTimestamp(
                    digest_algorithm=algorithm,
                    reduced_hash_tree=tree.reduced_for(offset),
                    timestamp_der=token,
                )


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER TLV at ``pos``; MalformedError if broken."""
    if pos + 2 > end:
        raise MalformedError("truncated DER in an evidence record")
    tag = buf[pos]
    first = buf[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + 2 + count > end:
            raise MalformedError("bad DER length in an evidence record")
        start = pos + 2 + count
        length = int.from_bytes(buf[pos + 2 : start], "big")
    if start + length > end:
        raise MalformedError("truncated DER in an evidence record")
    return tag, start, start + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, header start, content start, content end) of each TLV in ``buf[start:end]``."""
    out = []
    pos = start
    while pos < end:
        tag, s, e = _header(buf, pos, end)
        out.append((tag, pos, s, e))
        pos = e
    return out


_ALG_BY_CONTENT = {der[2:]: alg for alg, der in _ALG_DER.items()}


def renew_timestamps_der(
    records_der: Sequence[bytes],
    *,
    timestamper: Timestamper,
    max_leaves: int = MAX_LEAVES_PER_TIMESTAMP,
) -> list[bytes]:
    """:func:`renew_timestamps` over DER records, without decoding them fully.

    The bulk path of the renewal job: it reads only the TLV headers down to the last archive
    timestamp, takes the hash of its ``timeStamp`` DER as the leaf (RFC 4998 §5.2), and splices
    the new archive timestamp into the last chain. Same result as decoding, calling
    :func:`renew_timestamps` and encoding; :class:`MalformedError` on a record it cannot walk.
    """
    if max_leaves < 1:
        raise InputError("max_leaves must be at least 1")
    walked = []
    token_algorithms: dict[bytes, DigestAlgorithm] = {}
    by_algorithm: dict[DigestAlgorithm, dict[bytes, list[int]]] = {}
    for index, der in enumerate(records_der):
        der = bytes(der)
        tag, s, e = _header(der, 0, len(der))
        if tag != 0x30 or e != len(der):
            raise MalformedError(f"record {index} is not one DER EvidenceRecord")
        top = _children(der, s, e)
        if len(top) < 3 or top[0][0] != 0x02 or top[-1][0] != 0x30:
            raise MalformedError(f"record {index} is not an EvidenceRecord")
        _, seq_h, seq_s, seq_e = top[-1]
        chains = _children(der, seq_s, seq_e)
        if not chains or any(c[0] != 0x30 for c in chains):
            raise MalformedError(f"record {index} has no ArchiveTimeStampChain")
        _, chain_h, chain_s, chain_e = chains[-1]
        stamps = _children(der, chain_s, chain_e)
        if not stamps or stamps[-1][0] != 0x30:
            raise MalformedError(f"record {index} has an empty ArchiveTimeStampChain")
        fields = _children(der, stamps[-1][2], stamps[-1][3])
        if not fields or fields[-1][0] != 0x30:
            raise MalformedError(f"record {index}: an ArchiveTimeStamp without timeStamp")
        token = der[fields[-1][1] : fields[-1][3]]
        if fields[0][0] == 0xA0:
            found = _ALG_BY_CONTENT.get(der[fields[0][2] : fields[0][3]])
            if found is None:
                algorithm = DigestAlgorithm.from_oid(
                    algos.DigestAlgorithm.load(b"\x30" + der[fields[0][1] + 1 : fields[0][3]])[
                        "algorithm"
                    ].dotted
                )
            else:
                algorithm = found
        else:
            if token not in token_algorithms:
                token_algorithms[token] = timestamp_imprint(token)[0]
            algorithm = token_algorithms[token]
        leaf = hashlib.new(algorithm.value, token).digest()
        by_algorithm.setdefault(algorithm, {}).setdefault(leaf, []).append(index)
        walked.append((der, s, seq_h, seq_s, chain_h, chain_s, chain_e))
    renewed: list[bytes] = [b""] * len(walked)
    for indices, stamp in _stamp_leaf_groups(by_algorithm, max_leaves, timestamper):
        ats = stamp.to_der()
        for index in indices:
            der, s, seq_h, seq_s, chain_h, chain_s, chain_e = walked[index]
            chain = _tlv(0x30, der[chain_s:chain_e] + ats)
            sequence = _tlv(0x30, der[seq_s:chain_h] + chain)
            renewed[index] = _tlv(0x30, der[s:seq_h] + sequence)
    return renewed


def _renewal_hashes(
    record: EvidenceRecord, data_objects: Sequence[bytes], algorithm: DigestAlgorithm
) -> list[bytes]:
    """``h_i' = H'(H'(d_i) || ha)`` with ``ha = H'(DER(ArchiveTimeStampSequence))`` (§5.2)."""
    if not data_objects:
        raise InputError("hash-tree renewal needs the record's data objects")
    return _renewal_hashes_for_chain(record, len(record.chains), data_objects, algorithm)


def renew_hash_tree(
    record: EvidenceRecord,
    data_objects: Sequence[bytes],
    *,
    algorithm: DigestAlgorithm,
    timestamper: Timestamper,
) -> EvidenceRecord:
    """Hash-tree renewal (RFC 4998 §5.2): a new chain over ``H'(H'(d) || H'(sequence))``.

    ``data_objects`` are all data objects the record still proves (a group's members).
    """
    return renew_hash_trees([(record, data_objects)], algorithm=algorithm, timestamper=timestamper)[
        0
    ]


def renew_hash_trees(
    items: Sequence[tuple[EvidenceRecord, Sequence[bytes]]],
    *,
    algorithm: DigestAlgorithm,
    timestamper: Timestamper,
    max_leaves: int = MAX_LEAVES_PER_TIMESTAMP,
) -> list[EvidenceRecord]:
    """Hash-tree renewal of many records under one new timestamp per ``max_leaves`` records."""
    member_hashes = [_renewal_hashes(record, data, algorithm) for record, data in items]
    return _records_for(
        member_hashes,
        algorithm,
        timestamper,
        max_leaves,
        previous=[record for record, _ in items],
    )


# --- verification (RFC 4998 §5.3) ----------------------------------------------------------


def _check_ats(
    ats: ArchiveTimestamp,
    hashes: Sequence[bytes],
    algorithm: DigestAlgorithm,
    verify_timestamp: TimestampVerifier,
    where: str,
) -> datetime:
    token_alg, imprint, _ = timestamp_imprint(ats.timestamp_der)
    if ats.reduced_hash_tree:
        first = ats.reduced_hash_tree[0]
        for h in hashes:
            if h not in first:
                raise InputError(f"{where}: the data's hash is not in the reduced hash tree")
        root = compute_root(hashes[0], ats.reduced_hash_tree, algorithm)
    else:
        if len(hashes) != 1:
            raise InputError(f"{where}: several data objects but no reduced hash tree")
        root = hashes[0]
    if token_alg is not algorithm:
        raise InputError(
            f"{where}: the token hashes with {token_alg.value}, the chain with {algorithm.value}"
        )
    if root != imprint:
        raise InputError(f"{where}: the hash tree root is not what the timestamp covers")
    return verify_timestamp(ats.timestamp_der, root, token_alg)


def verify_evidence_record(
    record: EvidenceRecord,
    data_objects: Sequence[bytes],
    *,
    verify_timestamp: TimestampVerifier,
) -> list[datetime]:
    """Verify that ``record`` proves the existence of ``data_objects`` (RFC 4998 §5.3).

    For the first archive timestamp of the first chain the data's hashes must be in its
    reduced hash tree and lead to the timestamped root (§4.3); for the first one of each later
    chain the same with ``H(H(d) || H(DER of the preceding chains))``; every later archive
    timestamp of a chain must cover the hash of the previous ``timeStamp``'s DER. All
    timestamps of a chain share one hash algorithm, and times must not go backwards. Returns
    each timestamp's time, oldest first; raises :class:`InputError` on any mismatch.
    """
    if not data_objects:
        raise InputError("give the data objects the evidence record is to prove")
    times: list[datetime] = []
    for c, chain in enumerate(record.chains):
        algorithm = _chain_algorithm(chain)
        if algorithm not in record.digest_algorithms:
            raise InputError(f"chain {c + 1} uses {algorithm.value}, not in digestAlgorithms")
        if c == 0:
            hashes = [algorithm.digest(bytes(d)) for d in data_objects]
        else:
            hashes = _renewal_hashes_for_chain(record, c, data_objects, algorithm)
        previous: ArchiveTimestamp | None = None
        for a, ats in enumerate(chain):
            where = f"chain {c + 1}, archive timestamp {a + 1}"
            if previous is not None:
                hashes = [algorithm.digest(previous.timestamp_der)]
            at = _check_ats(ats, hashes, algorithm, verify_timestamp, where)
            if times and at < times[-1]:
                raise InputError(f"{where}: its time {at.isoformat()} precedes the one before")
            times.append(at)
            previous = ats
    return times


def _renewal_hashes_for_chain(
    record: EvidenceRecord,
    chain_index: int,
    data_objects: Sequence[bytes],
    algorithm: DigestAlgorithm,
) -> list[bytes]:
    ha = algorithm.digest(record.sequence_der(chain_index))
    return [algorithm.digest(algorithm.digest(bytes(d)) + ha) for d in data_objects]
