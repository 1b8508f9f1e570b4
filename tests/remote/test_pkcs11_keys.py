"""Key custody in SoftHSM2: keys made in the token, never readable, signatures that verify."""

from __future__ import annotations

import hashlib
import threading

import pytest
from cryptography.hazmat.primitives import serialization

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, verify_signature
from ltv.errors import ConfigurationError, InputError, UnsupportedAlgorithmError
from ltv.remote.pkcs11_keys import KeyAlgorithm, KeyNotFoundError, Pkcs11KeyStore

SHA256 = DigestAlgorithm.SHA256


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_key_is_generated_inside_and_never_leaves(keystore, algorithm) -> None:
    label = f"custody-{algorithm.value}"
    spki = keystore.generate(label, algorithm)
    public = serialization.load_der_public_key(spki)
    assert public.key_size == (2048 if algorithm is KeyAlgorithm.RSA_2048 else 256)
    attrs = keystore.attributes(label)
    assert attrs.sensitive is True
    assert attrs.extractable is False
    assert attrs.always_sensitive is True
    assert attrs.never_extractable is True
    assert attrs.local is True  # generated on the token, not imported
    assert attrs.private_exponent_readable is False
    assert keystore.public_key(label) == spki


@pytest.mark.parametrize(("algorithm", "mechanism", "digest"), [
    (KeyAlgorithm.RSA_2048, SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA256),
    (KeyAlgorithm.RSA_2048, SignatureMechanism.RSA_PSS, DigestAlgorithm.SHA384),
    (KeyAlgorithm.EC_P256, SignatureMechanism.ECDSA, DigestAlgorithm.SHA256),
])
def test_signatures_verify_with_cryptography(keystore, algorithm, mechanism, digest) -> None:
    label = f"sign-{algorithm.value}-{mechanism.value}"
    public = serialization.load_der_public_key(keystore.generate(label, algorithm))
    hashes_ = [digest.digest(b"doc %d" % i) for i in range(3)]
    values = keystore.sign(label, mechanism=mechanism, digest_algorithm=digest, digests=hashes_)
    assert len(values) == 3
    for h, value in zip(hashes_, values, strict=True):
        verify_signature(public, value, mechanism=mechanism, digest_algorithm=digest, digest=h)
    if algorithm is KeyAlgorithm.EC_P256:
        assert values[0][0] == 0x30  # DER Ecdsa-Sig-Value, not raw r||s


def test_refusals(keystore) -> None:
    keystore.generate("refusal-ec", KeyAlgorithm.EC_P256)
    with pytest.raises(InputError, match="already holds a key 'refusal-ec'"):
        keystore.generate("refusal-ec", KeyAlgorithm.RSA_2048)
    with pytest.raises(KeyNotFoundError, match="no single key 'absent'"):
        keystore.sign("absent", mechanism=SignatureMechanism.ECDSA, digest_algorithm=SHA256,
                      digests=[bytes(32)])
    with pytest.raises(UnsupportedAlgorithmError, match="cannot sign with rsassa-pkcs1v15"):
        keystore.sign("refusal-ec", mechanism=SignatureMechanism.RSA_PKCS1V15,
                      digest_algorithm=SHA256, digests=[bytes(32)])
    with pytest.raises(InputError, match="sha256 hash has 32 bytes, got 20"):
        keystore.sign("refusal-ec", mechanism=SignatureMechanism.ECDSA, digest_algorithm=SHA256,
                      digests=[bytes(20)])


def test_many_threads_share_the_one_pkcs11_thread(keystore) -> None:
    """Calls from 8 threads at once: without the single PKCS#11 thread SoftHSM corrupts its heap
    (research §1.4); here every signature verifies."""
    public = serialization.load_der_public_key(
        keystore.generate("threads-ec", KeyAlgorithm.EC_P256))
    errors: list[BaseException] = []
    names: set[str] = set()

    def work(i: int) -> None:
        try:
            for j in range(40):
                h = hashlib.sha256(b"%d/%d" % (i, j)).digest()
                (value,) = keystore.sign("threads-ec", mechanism=SignatureMechanism.ECDSA,
                                         digest_algorithm=SHA256, digests=[h])
                verify_signature(public, value, mechanism=SignatureMechanism.ECDSA,
                                 digest_algorithm=SHA256, digest=h)
            names.add(keystore._executor.submit(lambda: threading.current_thread().name)
                      .result())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(names) == 1
    assert next(iter(names)).startswith("pkcs11")


def test_wrong_label_or_pin_is_a_configuration_error(softhsm, keystore) -> None:
    with pytest.raises(ConfigurationError, match="no PKCS#11 token 'nope'"):
        Pkcs11KeyStore(module=softhsm.module, token_label="nope", pin="1234")
