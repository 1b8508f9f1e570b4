"""RFC 4998 evidence records: the STANDARDS.md §2.10 vector, properties, renewal, BouncyCastle."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ltv import ers
from ltv.algorithms import DigestAlgorithm
from ltv.errors import InputError, MalformedError, TimestampError

from .conftest import ErsTsa

SHA256 = DigestAlgorithm.SHA256
SHA512 = DigestAlgorithm.SHA512
DOCS = [f"contract-{i}.pdf bytes".encode() for i in range(1, 6)]


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- the worked vector (STANDARDS.md §2.10) --------------------------------------------------


def test_worked_vector() -> None:
    leaves = [_h(d) for d in DOCS]
    assert [h.hex()[:8] for h in leaves] == [
        "4bc7c6bc",
        "20af8c0e",
        "34be0c0a",
        "7aa400c5",
        "ff9ac1bb",
    ]
    tree = ers.build_hash_tree(leaves, SHA256)
    assert tree.root.hex() == "726fb87277b2aa88d9a3658eb89e96359d99d4ea8f85e9ed3ce5ec4af09c07d6"
    h1, h2, h3, h4, h5 = leaves
    h34 = _h(b"".join(sorted([h3, h4])))
    assert tree.reduced_for(0) == (tuple(sorted([h1, h2])), (h34,), (h5,))
    h12 = _h(b"".join(sorted([h1, h2])))
    h1234 = _h(b"".join(sorted([h12, h34])))
    assert tree.reduced_for(4) == (tuple(sorted([h5, h1234])),)  # carried up twice
    for i, leaf in enumerate(leaves):
        assert ers.compute_root(leaf, tree.reduced_for(i), SHA256) == tree.root


def test_single_leaf_tree() -> None:
    leaf = _h(b"alone")
    tree = ers.build_hash_tree([leaf], SHA256)
    assert tree.root == leaf
    assert tree.reduced_for(0) == ()


def test_leaf_not_in_first_list() -> None:
    tree = ers.build_hash_tree([_h(d) for d in DOCS], SHA256)
    with pytest.raises(InputError):
        ers.compute_root(_h(b"other"), tree.reduced_for(0), SHA256)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70))
def test_every_leafs_reduced_hash_tree_verifies(leaves: list[bytes]) -> None:
    tree = ers.build_hash_tree(leaves, SHA256)
    for i, leaf in enumerate(leaves):
        assert ers.compute_root(leaf, tree.reduced_for(i), SHA256) == tree.root


# --- DER ---------------------------------------------------------------------------------


_hashes = st.binary(min_size=32, max_size=32)
_ATTRIBUTE = bytes.fromhex("300b06032a0304310404026869")  # SEQUENCE { 1.2.3.4, SET { "hi" } }
_reduced = st.lists(st.lists(_hashes, min_size=1, max_size=3).map(tuple), max_size=4).map(tuple)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chains=st.lists(
        st.lists(
            st.tuples(st.sampled_from([SHA256, SHA512, None]), _reduced), min_size=1, max_size=3
        ),
        min_size=1,
        max_size=3,
    ),
    crypto_infos=st.booleans(),
)
def test_parses_then_round_trips(
    ers_tsa: ErsTsa, chains: list[list[tuple[object, object]]], crypto_infos: bool
) -> None:
    token = ers_tsa.timestamp(_h(b"x"), SHA256)
    record = ers.EvidenceRecord(
        digest_algorithms=(SHA256, SHA512),
        chains=tuple(
            tuple(
                ers.ArchiveTimestamp(
                    digest_algorithm=alg, reduced_hash_tree=red, timestamp_der=token
                )  # type: ignore[arg-type]
                for alg, red in chain
            )
            for chain in chains
        ),
        crypto_infos=(_ATTRIBUTE,) if crypto_infos else (),
        encryption_info=b"0\x08\x06\x03*\x03\x05\x04\x01z" if crypto_infos else None,
    )
    der = record.to_der()
    parsed = ers.EvidenceRecord.from_der(der)
    assert parsed == record
    assert parsed.to_der() == der
    # asn1crypto, given our class definitions, reads the same structure back
    asn1 = ers._EvidenceRecord.load(der)
    assert len(asn1["archive_time_stamp_sequence"]) == len(record.chains)


@given(st.binary(max_size=200))
def test_garbage_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedError):
        ers.EvidenceRecord.from_der(data)


def test_truncated_record_is_malformed(ers_tsa: ErsTsa) -> None:
    der = ers.new_evidence_records([[b"doc"]], algorithm=SHA256, timestamper=ers_tsa.timestamp)[
        0
    ].to_der()
    for cut in (1, 10, len(der) // 2, len(der) - 1):
        with pytest.raises(MalformedError):
            ers.EvidenceRecord.from_der(der[:cut])
    with pytest.raises(MalformedError):
        ers.EvidenceRecord.from_der(der + b"\x00")


# --- creation, renewal, verification ----------------------------------------------------------


def test_batch_records_verify_and_tampering_fails(ers_tsa: ErsTsa) -> None:
    calls = ers_tsa.calls
    groups = [[d] for d in DOCS] + [[b"annex-a", b"annex-b", b"annex-c"]]
    records = ers.new_evidence_records(groups, algorithm=SHA256, timestamper=ers_tsa.timestamp)
    assert ers_tsa.calls == calls + 1  # one timestamp for the whole batch
    for record, group in zip(records, groups, strict=True):
        record = ers.EvidenceRecord.from_der(record.to_der())
        times = ers.verify_evidence_record(record, group, verify_timestamp=ers_tsa.verify)
        assert len(times) == 1
        # each member of a group is provable alone
        for member in group:
            ers.verify_evidence_record(record, [member], verify_timestamp=ers_tsa.verify)
        with pytest.raises(InputError, match="not in the reduced hash tree"):
            ers.verify_evidence_record(record, [b"tampered"], verify_timestamp=ers_tsa.verify)
    # a record of another document does not prove this one
    with pytest.raises(InputError):
        ers.verify_evidence_record(records[0], [DOCS[2]], verify_timestamp=ers_tsa.verify)


def test_tampered_tree_fails(ers_tsa: ErsTsa) -> None:
    record = ers.new_evidence_records(
        [[d] for d in DOCS], algorithm=SHA256, timestamper=ers_tsa.timestamp
    )[0]
    ats = record.chains[0][0]
    bad_tree = (ats.reduced_hash_tree[0], (b"\x00" * 32,), *ats.reduced_hash_tree[2:])
    bad = ers.EvidenceRecord(
        digest_algorithms=record.digest_algorithms,
        chains=(
            (
                ers.ArchiveTimestamp(
                    digest_algorithm=SHA256,
                    reduced_hash_tree=bad_tree,
                    timestamp_der=ats.timestamp_der,
                ),
            ),
        ),
    )
    with pytest.raises(InputError, match="root"):
        ers.verify_evidence_record(bad, [DOCS[0]], verify_timestamp=ers_tsa.verify)


def test_lying_timestamper_is_caught(ers_tsa: ErsTsa) -> None:
    def liar(digest: bytes, algorithm: DigestAlgorithm) -> bytes:
        return ers_tsa.timestamp(_h(b"something else"), algorithm)

    with pytest.raises(TimestampError):
        ers.new_evidence_records([[b"doc"]], algorithm=SHA256, timestamper=liar)


def _renewed_records(ers_tsa: ErsTsa) -> tuple[list[ers.EvidenceRecord], list[list[bytes]]]:
    groups = [[d] for d in DOCS] + [[b"annex-a", b"annex-b"]]
    records = ers.new_evidence_records(groups, algorithm=SHA256, timestamper=ers_tsa.timestamp)
    ers_tsa.advance(timedelta(days=365 * 4))
    calls = ers_tsa.calls
    records = ers.renew_timestamps(records, timestamper=ers_tsa.timestamp)
    assert ers_tsa.calls == calls + 1
    ers_tsa.advance(timedelta(days=365 * 4))
    records = ers.renew_hash_trees(
        list(zip(records, groups, strict=True)), algorithm=SHA512, timestamper=ers_tsa.timestamp
    )
    assert ers_tsa.calls == calls + 2
    return records, groups


def test_renewal_chains_verify(ers_tsa: ErsTsa) -> None:
    records, groups = _renewed_records(ers_tsa)
    for record, group in zip(records, groups, strict=True):
        record = ers.EvidenceRecord.from_der(record.to_der())
        assert [len(c) for c in record.chains] == [2, 1]
        assert record.digest_algorithms == (SHA256, SHA512)
        times = ers.verify_evidence_record(record, group, verify_timestamp=ers_tsa.verify)
        assert len(times) == 3
        assert times[0] < times[1] < times[2]
        with pytest.raises(InputError):
            ers.verify_evidence_record(record, [b"tampered"], verify_timestamp=ers_tsa.verify)
    # single-record renewal (no reduced tree: the token covers the hash directly)
    one = ers.renew_timestamp(records[0], timestamper=ers_tsa.timestamp)
    assert one.chains[-1][-1].reduced_hash_tree == ()
    ers.verify_evidence_record(one, groups[0], verify_timestamp=ers_tsa.verify)
    one = ers.renew_hash_tree(one, groups[0], algorithm=SHA512, timestamper=ers_tsa.timestamp)
    assert len(ers.verify_evidence_record(one, groups[0], verify_timestamp=ers_tsa.verify)) == 5


def test_renewal_input_is_the_previous_timestamp(ers_tsa: ErsTsa) -> None:
    record = ers.new_evidence_records([[b"doc"]], algorithm=SHA256, timestamper=ers_tsa.timestamp)[
        0
    ]
    renewed = ers.renew_timestamp(record, timestamper=ers_tsa.timestamp)
    _, imprint, _ = ers.timestamp_imprint(renewed.chains[0][1].timestamp_der)
    assert imprint == _h(record.chains[0][0].timestamp_der)  # RFC 4998 §5.2
    # swapping the chain's first timestamp breaks the second
    other = ers.new_evidence_records([[b"doc"]], algorithm=SHA256, timestamper=ers_tsa.timestamp)[0]
    forged = ers.EvidenceRecord(
        digest_algorithms=(SHA256,), chains=((other.chains[0][0], renewed.chains[0][1]),)
    )
    with pytest.raises(InputError):
        ers.verify_evidence_record(forged, [b"doc"], verify_timestamp=ers_tsa.verify)


def test_hash_tree_renewal_uses_unsorted_concatenation(ers_tsa: ErsTsa) -> None:
    record = ers.new_evidence_records([[b"doc"]], algorithm=SHA256, timestamper=ers_tsa.timestamp)[
        0
    ]
    renewed = ers.renew_hash_tree(record, [b"doc"], algorithm=SHA512, timestamper=ers_tsa.timestamp)
    ha = hashlib.sha512(record.sequence_der()).digest()
    expected = hashlib.sha512(hashlib.sha512(b"doc").digest() + ha).digest()
    _, imprint, _ = ers.timestamp_imprint(renewed.chains[1][0].timestamp_der)
    assert imprint == expected


# --- BouncyCastle's ERS API as independent verifier ---------------------------------------------

_BC = [Path("/usr/share/java") / jar for jar in ("bcpkix.jar", "bcprov.jar", "bcutil.jar")]


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("java") is None or not all(p.exists() for p in _BC),
    reason="needs java and libbcpkix-java (make system)",
)
def test_bouncycastle_validates_our_records(
    make_tsa: Callable[[datetime], ErsTsa], tmp_path: Path
) -> None:
    ers_tsa = make_tsa(datetime(2026, 11, 1, tzinfo=UTC))
    groups = [[d] for d in DOCS] + [[b"annex-a", b"annex-b"]]
    initial = ers.new_evidence_records(groups, algorithm=SHA256, timestamper=ers_tsa.timestamp)
    ts_renewed = ers.renew_timestamps(initial, timestamper=ers_tsa.timestamp)
    hash_renewed = ers.renew_hash_trees(
        list(zip(ts_renewed, groups, strict=True)), algorithm=SHA512, timestamper=ers_tsa.timestamp
    )
    (tmp_path / "tsa.pem").write_bytes(ers_tsa.pem())
    args: list[str] = [str(tmp_path / "tsa.pem")]
    for stage, records in (
        ("initial", initial),
        ("ts-renewed", ts_renewed),
        ("hash-renewed", hash_renewed),
    ):
        for n, (record, group) in enumerate(zip(records, groups, strict=True)):
            er = tmp_path / f"{stage}-{n}.ers"
            er.write_bytes(record.to_der())
            files = []
            for m, data in enumerate(group):
                f = tmp_path / f"{stage}-{n}-{m}.bin"
                f.write_bytes(data)
                files.append(str(f))
            args.append(f"{er}={','.join(files)}")
    java = Path(__file__).with_name("ErsCheck.java")
    classpath = ":".join(str(p) for p in _BC)
    result = subprocess.run(
        ["java", "-cp", classpath, str(java), *args], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == len(args) - 1, result.stdout
    # and BouncyCastle rejects a record given the wrong data
    bad = [
        str(tmp_path / "tsa.pem"),
        f"{tmp_path / 'initial-0.ers'}={tmp_path / 'initial-2-0.bin'}",
    ]
    result = subprocess.run(
        ["java", "-cp", classpath, str(java), *bad], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout


def test_bulk_der_renewal_matches_decoded_renewal(ers_tsa: ErsTsa) -> None:
    groups = [[d] for d in DOCS] + [[b"annex-a", b"annex-b"]]
    first = ers.new_evidence_records(groups[:3], algorithm=SHA256, timestamper=ers_tsa.timestamp)
    second = ers.new_evidence_records(groups[3:], algorithm=SHA256, timestamper=ers_tsa.timestamp)
    records = first + second
    tokens: dict[bytes, bytes] = {}

    def cached(digest: bytes, algorithm: DigestAlgorithm) -> bytes:
        if digest not in tokens:
            tokens[digest] = ers_tsa.timestamp(digest, algorithm)
        return tokens[digest]

    decoded = ers.renew_timestamps(records, timestamper=cached)
    bulk = ers.renew_timestamps_der([r.to_der() for r in records], timestamper=cached)
    assert len(tokens) == 1  # two ingest batches, one renewal timestamp
    assert bulk == [r.to_der() for r in decoded]
    for der, group in zip(bulk, groups, strict=True):
        ers.verify_evidence_record(
            ers.EvidenceRecord.from_der(der), group, verify_timestamp=ers_tsa.verify
        )
    with pytest.raises(MalformedError):
        ers.renew_timestamps_der([b"\x30\x03\x02\x01\x01"], timestamper=cached)
