"""CAdES (CMS) adapter: one :class:`~ltv.validation.facts.SignatureFacts` per ``SignerInfo``.

What only the format can check happens here (EN 319 102-1 §5.2.2 FC, §5.2.3 ISC, §5.2.7 CV):

* the message-digest signed attribute against the encapsulated or detached content
  (HASH_FAILURE), the signature value over the DER signed attributes (SIG_CRYPTO_FAILURE);
* the signer certificate named by ``sid`` and bound by signing-certificate(-v2)
  (NO_SIGNING_CERTIFICATE_FOUND otherwise);
* the structure (§5.2.2 FC): the certificates set holds certificates only (no attribute
  certificate, no garbage), the signed attributes hold message-digest, and no single-instance
  attribute type twice (RFC 5652 §5.3, §11): TOTAL-FAILED / FORMAT_FAILURE otherwise; a
  document signature without content-type is INDETERMINATE / SIG_CONSTRAINTS_FAILURE;
* every algorithm the binding rests on (:func:`cms_algorithm_uses`), for the cryptographic
  constraints of :mod:`ltv.validation.crypto_constraints`;
* each signature-time-stamp's imprint over the signature value, each content-time-stamp's over
  the content, and each archive-time-stamp-v3's imprint (EN 319 122-1 §5.5.3, computed with
  :func:`ltv.formats.cades.archive_timestamp_imprint` over the ats-hash-index-v3 the token
  carries). An archive time-stamp covers (gives POE to) the signature value, and exactly the
  certificates, revocation data and unsigned attributes listed in its hash index.

Parsing keeps the original encodings (:mod:`ltv.formats.cms`); anything that does not parse is a
:class:`~ltv.errors.MalformedError`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from asn1crypto import algos, core, tsp
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import Encoding

from ltv.algorithms import DigestAlgorithm
from ltv.errors import LtvError, MalformedError, UnsupportedAlgorithmError
from ltv.evidence import EvidenceSet
from ltv.formats import cms
from ltv.formats.cades import (
    OID_ARCHIVE_TIME_STAMP_V2,
    OID_ARCHIVE_TIME_STAMP_V3,
    OID_ATS_HASH_INDEX_V3,
    OID_CONTENT_TIME_STAMP,
    OID_CONTENT_TYPE,
    OID_MESSAGE_DIGEST,
    OID_RI_OCSP_RESPONSE,
    OID_SIGNATURE_TIME_STAMP,
    OID_SIGNING_CERTIFICATE_V2,
    OID_SIGNING_TIME,
)
from ltv.signing import SignatureFormat, SignatureLevel
from ltv.validation import legacy
from ltv.validation.facts import (
    AlgorithmUse,
    IntegrityResult,
    IntegrityStatus,
    SignatureFacts,
    TimestampFacts,
    poe_digest,
)
from ltv.validation.model import TimestampKind

__all__ = ["certificates_problem", "cms_algorithm_uses", "content_type_missing", "extract",
           "signed_attributes_problem"]

_DER = Encoding.DER

# The attribute OIDs are the builder's (one vocabulary for what we write and what we read).
OID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"  # ESS v1: read only (SHA-1 era)
OID_ATS_HASH_INDEX_V1 = "0.4.0.1733.2.5"  # ats-hash-index, TS 101 733 v2.2.1: read only
OID_ID_DATA = "1.2.840.113549.1.7.1"

_ATTRIBUTE_NAMES = {
    OID_CONTENT_TYPE: "content-type",
    OID_MESSAGE_DIGEST: "message-digest",
    OID_SIGNING_TIME: "signing-time",
    OID_SIGNING_CERTIFICATE: "signing-certificate",
    OID_SIGNING_CERTIFICATE_V2: "signing-certificate-v2",
    OID_CONTENT_TIME_STAMP: "content-time-stamp",
}
# RFC 5652 §11.1-11.3, RFC 5035 §3: exactly one value each
_SINGLE_VALUED = frozenset({OID_CONTENT_TYPE, OID_MESSAGE_DIGEST, OID_SIGNING_TIME,
                            OID_SIGNING_CERTIFICATE, OID_SIGNING_CERTIFICATE_V2})
_CERT_CHOICE_NAMES = {0xA0: "an extended certificate", 0xA1: "an attribute certificate (v1)",
                      0xA2: "an attribute certificate (v2)", 0xA3: "an other certificate format"}


def signed_attributes_problem(attributes: Sequence[tuple[str, int]]) -> str | None:
    """Format checking of signed attributes given as (type OID, number of values) pairs:
    message-digest present (RFC 5652 §5.3), no single-instance attribute type twice and one
    value each (content-type, message-digest, signing-time: RFC 5652 §11; signing-certificate
    (-v2): RFC 5035 §3). Other types may repeat (CAdES allows several content-time-stamps).
    A missing content-type is no format failure here: counter-signatures must not carry one
    (RFC 5652 §11.1), and for a document signature it is a constraint failure
    (:func:`content_type_missing`). A one-line reason, or None."""
    seen: set[str] = set()
    for oid, count in attributes:
        name = _ATTRIBUTE_NAMES.get(oid, oid)
        if oid in _SINGLE_VALUED:
            if oid in seen:
                return f"the signed attribute {name} occurs twice"
            if count != 1:
                return f"the signed attribute {name} holds {count} values instead of one"
        seen.add(oid)
    if OID_MESSAGE_DIGEST not in seen:
        return f"the mandatory signed attribute {_ATTRIBUTE_NAMES[OID_MESSAGE_DIGEST]} is missing"
    return None


NO_CONTENT_TYPE = "the mandatory signed attribute content-type is missing"


def content_type_missing(attributes: Sequence[tuple[str, int]]) -> str | None:
    """RFC 5652 §5.3: a document signature's signed attributes carry content-type. Missing,
    it is a constraint failure (INDETERMINATE / SIG_CONSTRAINTS_FAILURE), not a format
    failure: real signers omit it and the signature value still binds the content."""
    return None if any(oid == OID_CONTENT_TYPE for oid, _ in attributes) else NO_CONTENT_TYPE


def certificates_problem(raw_certificates: Sequence[bytes]) -> str | None:
    """Format checking of the SignedData certificates set: certificates only (X.509, or a
    well-formed attribute certificate). An X.509 certificate ``cryptography`` refuses is no
    format failure (the readers leave it out with a warning; a signer certificate so left out
    makes NO_SIGNING_CERTIFICATE_FOUND); only what is no certificate at all is."""
    for raw in raw_certificates:
        if raw and raw[0] in (0xA1, 0xA2):
            # RFC 5652 §10.2.2 allows attribute certificates beside the X.509 ones (real TSA
            # tokens carry v1 ones); they play no part in validation, but must be well-formed
            if not _well_formed_choice(raw):
                return (f"the CMS certificates set holds a malformed "
                        f"{_CERT_CHOICE_NAMES[raw[0]].removeprefix('an ')}")
            continue
        if not raw or raw[0] != cms.TAG_SEQUENCE:
            what = _CERT_CHOICE_NAMES.get(raw[0] if raw else -1, "something else")
            return f"the CMS certificates set holds {what}, not a certificate"
        try:
            x509.load_der_x509_certificate(raw)
        except ValueError as exc:
            if _ber_certificate(raw) or _asn1_certificate(raw):
                # BER as found in older files, or parameters DER forbids: a certificate all
                # the same, which cryptography cannot use (left out with a warning)
                continue
            return f"the CMS certificates set holds an entry that is no certificate: {exc}"
    return None


def _well_formed_choice(raw: bytes) -> bool:
    """True when ``raw`` parses completely as a CMS CertificateChoices value."""
    try:
        choice = asn1_cms.CertificateChoices.load(raw, strict=True)
        _ = choice.native  # parse every field
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False
    return True


def _asn1_certificate(raw: bytes) -> bool:
    """True when ``raw`` parses completely as an X.509 Certificate (RFC 5280 §4.1) by
    asn1crypto's reading, e.g. with AlgorithmIdentifier parameters DER forbids."""
    try:
        cert = asn1_x509.Certificate.load(raw, strict=True)
        _ = cert.native  # parse every field
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False
    return True


def _ber_certificate(raw: bytes) -> bool:
    """True when ``raw`` is a certificate in BER (e.g. indefinite lengths): it re-encodes to
    DER that ``cryptography`` reads."""
    try:
        x509.load_der_x509_certificate(asn1_x509.Certificate.load(raw).dump(force=True))
    except (ValueError, TypeError, KeyError, IndexError):
        return False
    return True


def _hash_of(sig_alg: algos.SignedDigestAlgorithm, fallback: str) -> str:
    try:
        return str(sig_alg.hash_algo)
    except (ValueError, KeyError):
        return fallback  # plain rsaEncryption / ecPublicKey: the digestAlgorithm is the hash


def cms_algorithm_uses(info: asn1_cms.SignerInfo, *, where: str = "SignerInfo",
                       ess: bool = True) -> tuple[AlgorithmUse, ...]:
    """The algorithms a CMS SignerInfo's binding rests on: its digestAlgorithm (the
    message-digest), its signatureAlgorithm's hash, and (``ess``) the ESS
    signing-certificate(-v2) certHash algorithm (v1 is SHA-1 by definition, RFC 2634 §5.4).

    Time-stamp tokens are judged without their ESS hash (``ess=False``): RFC 3161 mandated
    ESSCertID v1 (SHA-1) until RFC 5816, many TSAs still write it, and replacing the TSA
    certificate it names would take a SHA-1 second preimage, not a collision."""
    digest = str(info["digest_algorithm"]["algorithm"].native)
    sig_alg: algos.SignedDigestAlgorithm = info["signature_algorithm"]
    uses = [
        AlgorithmUse(what=f"{where} digestAlgorithm (message-digest)", algorithm=digest),
        AlgorithmUse(what=f"{where} signatureAlgorithm {sig_alg['algorithm'].native}",
                     algorithm=_hash_of(sig_alg, digest)),
    ]
    attrs = info["signed_attrs"]
    for attr in attrs if ess and isinstance(attrs, asn1_cms.CMSAttributes) else ():
        oid = attr["type"].dotted
        if oid == OID_SIGNING_CERTIFICATE:
            uses.append(AlgorithmUse(what=f"{where} ESS signing-certificate (v1) certHash",
                                     algorithm="sha1"))
        elif oid == OID_SIGNING_CERTIFICATE_V2:
            try:
                for value in attr["values"]:
                    for cert_id in value["certs"]:
                        uses.append(AlgorithmUse(
                            what=f"{where} ESS signing-certificate-v2 certHash",
                            algorithm=str(cert_id["hash_algorithm"]["algorithm"].native)))
            except (ValueError, KeyError, TypeError, IndexError):
                continue  # malformed: signer identification reports it
    return tuple(uses)


def extract(data: bytes, *, detached_content: bytes | None = None) -> list[SignatureFacts]:
    """The facts of every signer of a CMS ``SignedData`` (DER, BER or PEM)."""
    der = _unpem(data)
    try:
        parts = cms.parse_signed_data(der)
        _ = parts.econtent_type_tlv
        econtent_type, econtent = parts.encap
    except LtvError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise MalformedError(f"not a CMS signature: {exc}") from exc
    certificates, cert_problems = _certificates(parts)
    structure = certificates_problem(parts.certificates or ())
    crls, ocsps, rev_problems = _revocation(parts)
    evidence = EvidenceSet.of(certificates=certificates, crls=crls, ocsp_responses=ocsps)
    content = econtent
    warnings = [*cert_problems, *rev_problems]
    if econtent is not None and detached_content is not None:
        warnings.append("the signature encapsulates its content; the --detached data was ignored")
    if econtent is None:
        content = detached_content
    out = []
    for index, info in enumerate(parts.signer_infos):
        label = "signature" if len(parts.signer_infos) == 1 else f"signature {index + 1}"
        try:
            facts = _signer_facts(parts, info, label=label, content=content,
                                  econtent_type=econtent_type, certificates=certificates,
                                  evidence=evidence, warnings=warnings,
                                  detached=econtent is None, structure=structure)
            facts = legacy.augment(facts, der=der, index=index,
                                   detached=detached_content if econtent is None else None)
        except LtvError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError,
                RecursionError) as exc:
            raise MalformedError(f"{label}: malformed CMS SignerInfo: {exc}") from exc
        out.append(facts)
        try:  # counter-signatures, each its own entry (issue #19)
            from ltv.validation._cades_counter import counter_signatures

            out.extend(counter_signatures(parts, info, parent_id=label,
                                          certificates=certificates, evidence=evidence))
        except LtvError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError,
                RecursionError) as exc:
            raise MalformedError(f"{label}: malformed CMS counter-signature: {exc}") from exc
    return out


def _unpem(data: bytes) -> bytes:
    from ltv.formats.cms_sniff import unwrap_base64

    data = unwrap_base64(data)  # bare base64 of the DER, as some tools save .p7m files
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        import base64

        lines = [ln for ln in stripped.splitlines() if ln and not ln.startswith(b"-----")]
        try:
            return base64.b64decode(b"".join(lines), validate=True)
        except ValueError as exc:
            raise MalformedError(f"PEM input with a broken base64 body: {exc}") from exc
    return data


def _certificates(parts: cms.SignedDataParts) -> tuple[list[x509.Certificate], list[str]]:
    out: list[x509.Certificate] = []
    problems: list[str] = []
    for raw in parts.certificates or ():
        if raw[0] != cms.TAG_SEQUENCE:
            continue
        try:
            out.append(x509.load_der_x509_certificate(raw))
        except ValueError as exc:
            problems.append(f"an embedded certificate does not parse and was ignored: {exc}")
    return out, problems


def _revocation(parts: cms.SignedDataParts) -> tuple[list[bytes], list[bytes], list[str]]:
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    problems: list[str] = []
    for raw in parts.crls or ():
        if raw[0] == cms.TAG_SEQUENCE:
            crls.append(raw)
            continue
        if raw[0] == cms.TAG_CTX1:
            kids = cms.read_single(raw, "RevocationInfoChoice").children()
            if len(kids) == 2 and kids[0].tag == cms.TAG_OID:
                oid = core.ObjectIdentifier.load(kids[0].raw).dotted
                if oid == OID_RI_OCSP_RESPONSE:
                    ocsps.append(kids[1].raw)
                    continue
        problems.append("an embedded revocation entry of an unknown kind was ignored")
    return crls, ocsps, problems


def _signer_facts(parts: cms.SignedDataParts, info: cms.SignerInfoParts, *, label: str,
                  content: bytes | None, econtent_type: str,
                  certificates: Sequence[x509.Certificate], evidence: EvidenceSet,
                  warnings: Sequence[str], detached: bool,
                  structure: str | None = None) -> SignatureFacts:
    parsed = info.parsed()
    errors: list[str] = []
    warns = list(warnings)
    constraints: list[str] = []
    digest_name = str(parsed["digest_algorithm"]["algorithm"].native)
    sig_alg: algos.SignedDigestAlgorithm = parsed["signature_algorithm"]
    signature_value = info.signature_value
    signed = {oid: values for oid, values in info.signed_attributes()}

    # ISC (§5.2.3): sid, then the signing-certificate(-v2) binding
    signer, isc_error = _identify_signer(parsed, certificates, signed)
    claimed = _signing_time(signed)
    # CV (§5.2.7)
    integrity = _check_integrity(info, parsed, signer, content, digest_name, sig_alg, signed,
                                 econtent_type, detached)
    key_size = None
    if signer is not None:
        key = signer.public_key()
        key_size = key.key_size if isinstance(key, (rsa.RSAPublicKey,
                                                    ec.EllipticCurvePublicKey)) else None
    if info.signed_attrs is not None:
        counted = [(oid, len(values)) for oid, values in info.signed_attributes()]
        structure = structure or signed_attributes_problem(counted)
        missing = content_type_missing(counted)
        if missing is not None:  # a counter-signature drops it (ltv.validation._cades_counter)
            constraints.append(missing)
        if OID_SIGNING_CERTIFICATE_V2 not in signed and OID_SIGNING_CERTIFICATE not in signed:
            warns.append("no signing-certificate-v2 attribute: not a CAdES baseline signature")

    # A POE of the signature value is one of the signer certificate too: the signed
    # signing-certificate(-v2) attribute binds it (ISC passed when ``signer`` is set).
    bound = (signer.public_bytes(_DER),) if signer is not None else ()
    timestamps = _timestamps(parts, info, signed, content, certificates, signature_value,
                             errors, bound)
    level = _level(info, parts, signed)
    if structure is not None:  # FC (§5.2.2) comes before everything else
        integrity = IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE, structure)
    return SignatureFacts(
        id=label,
        format=SignatureFormat.CADES,
        level=level,
        signer_certificate=signer,
        signer_identification_error=isc_error,
        certificates=tuple(certificates),
        integrity=integrity,
        signature_value=signature_value,
        claimed_signing_time=claimed,
        digest_algorithm=digest_name,
        signature_algorithm=str(sig_alg["algorithm"].native),
        signature_key_size=key_size,
        timestamps=tuple(timestamps),
        evidence=evidence,
        errors=tuple(errors),
        warnings=tuple(warns),
        constraint_failures=tuple(constraints),
        algorithm_uses=cms_algorithm_uses(parsed),
        content_type=econtent_type,
    )


def _level(info: cms.SignerInfoParts, parts: cms.SignedDataParts,
           signed: dict[str, list[bytes]]) -> SignatureLevel | None:
    if info.signed_attrs is None or (OID_SIGNING_CERTIFICATE_V2 not in signed
                                     and OID_SIGNING_CERTIFICATE not in signed):
        return None
    oids = {oid for oid, _ in info.unsigned_attributes()}
    if oids & {OID_ARCHIVE_TIME_STAMP_V3, OID_ARCHIVE_TIME_STAMP_V2}:
        return SignatureLevel.B_LTA
    if OID_SIGNATURE_TIME_STAMP in oids:
        return SignatureLevel.B_LT if parts.crls else SignatureLevel.B_T
    return SignatureLevel.B_B


def _identify_signer(parsed: asn1_cms.SignerInfo, certificates: Sequence[x509.Certificate],
                     signed: dict[str, list[bytes]]) -> tuple[x509.Certificate | None, str | None]:
    sid = parsed["sid"]
    candidate: x509.Certificate | None = None
    if sid.name == "issuer_and_serial_number":
        serial = int(sid.chosen["serial_number"].native)
        issuer = sid.chosen["issuer"]
        for cert in certificates:
            if cert.serial_number == serial and _asn1_issuer(cert) == issuer:
                candidate = cert
                break
    else:
        ski = bytes(sid.chosen.native)
        for cert in certificates:
            try:
                ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ext.value.digest == ski:
                candidate = cert
                break
    if candidate is None:
        return None, "the signer's certificate (named by the SignerInfo sid) is not included"
    binding = _check_signing_certificate(candidate, signed)
    if binding is not None:
        return None, binding
    return candidate, None


def _asn1_issuer(cert: x509.Certificate) -> object:
    return asn1_x509.Certificate.load(cert.public_bytes(_DER))["tbs_certificate"]["issuer"]


def _check_signing_certificate(cert: x509.Certificate,
                               signed: dict[str, list[bytes]]) -> str | None:
    """ESS signing-certificate(-v2): the first ESSCertID must hash to the signer certificate."""
    der = cert.public_bytes(_DER)
    if OID_SIGNING_CERTIFICATE_V2 in signed:
        value = tsp.SigningCertificateV2.load(signed[OID_SIGNING_CERTIFICATE_V2][0])
        first = value["certs"][0]
        alg = str(first["hash_algorithm"]["algorithm"].native)
        expected = bytes(first["cert_hash"].native)
        if not hmac.compare_digest(hashlib.new(alg, der).digest(), expected):
            return ("the signing-certificate-v2 attribute names another certificate than the "
                    "one the SignerInfo identifies")
        return None
    if OID_SIGNING_CERTIFICATE in signed:
        value_v1 = tsp.SigningCertificate.load(signed[OID_SIGNING_CERTIFICATE][0])
        expected = bytes(value_v1["certs"][0]["cert_hash"].native)
        if not hmac.compare_digest(hashlib.sha1(der).digest(), expected):  # noqa: S324
            return ("the signing-certificate attribute names another certificate than the one "
                    "the SignerInfo identifies")
    return None


def _signing_time(signed: dict[str, list[bytes]]) -> datetime | None:
    values = signed.get(OID_SIGNING_TIME)
    if not values:
        return None
    value = asn1_cms.Time.load(values[0]).native
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return None


def _check_integrity(info: cms.SignerInfoParts, parsed: asn1_cms.SignerInfo,
                     signer: x509.Certificate | None, content: bytes | None, digest_name: str,
                     sig_alg: algos.SignedDigestAlgorithm, signed: dict[str, list[bytes]],
                     econtent_type: str, detached: bool) -> IntegrityResult:
    try:
        digest_of = DigestAlgorithm.from_name(digest_name).digest
    except UnsupportedAlgorithmError as exc:
        from ltv.validation._extra_digests import EXTRA_HASHES, extra_digest

        if digest_name not in EXTRA_HASHES:  # SHA-3 and SHA-224 are read too (issue #19)
            return IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE, str(exc))

        def digest_of(data: bytes) -> bytes:
            value = extra_digest(digest_name, data)
            assert value is not None
            return value
    if content is None:
        return IntegrityResult.failed(
            IntegrityStatus.SIGNED_DATA_NOT_FOUND,
            "the signature is detached and the signed data was not given (--detached DATA)",
        )
    if info.signed_attrs is not None:
        values = signed.get(OID_MESSAGE_DIGEST)
        if not values:
            return IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE,
                                          "the message-digest signed attribute is missing")
        claimed = cms.read_single(values[0], "message-digest").content
        if not hmac.compare_digest(digest_of(content), claimed):
            what = "detached data" if detached else "encapsulated content"
            return IntegrityResult.failed(
                IntegrityStatus.HASH_FAILURE,
                f"the {what} does not match the signed message-digest ({digest_name})",
            )
        ct_values = signed.get(OID_CONTENT_TYPE)
        if ct_values and core.ObjectIdentifier.load(ct_values[0]).dotted != econtent_type:
            return IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE,
                                          "the content-type attribute differs from eContentType")
        signed_bytes = info.signed_attrs_der
    else:
        signed_bytes = content
    if signer is None:
        return IntegrityResult()  # ISC failed; CV cannot run (reported as NO_SIGNING_CERT...)
    try:
        verify_cms_signature(signer.public_key(), info.signature_value, signed_bytes,
                             sig_alg, digest_name)
    except InvalidSignature:
        if info.signed_attrs is not None and _verifies_over_der(signer, info, signed_bytes,
                                                                sig_alg, digest_name):
            return IntegrityResult()  # signed over the DER re-encoding (RFC 5652 §5.4)
        return IntegrityResult.failed(
            IntegrityStatus.SIG_CRYPTO_FAILURE,
            "the signature value does not verify with the signer certificate's public key",
        )
    except UnsupportedAlgorithmError as exc:
        return IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE, str(exc))
    return IntegrityResult()


def _verifies_over_der(signer: x509.Certificate, info: cms.SignerInfoParts, stored: bytes,
                       sig_alg: algos.SignedDigestAlgorithm, digest_name: str) -> bool:
    from ltv.formats._cms_der import der_signed_attributes

    der = der_signed_attributes(stored)
    if der is None:
        return False
    try:
        verify_cms_signature(signer.public_key(), info.signature_value, der, sig_alg,
                             digest_name)
    except (InvalidSignature, UnsupportedAlgorithmError):
        return False
    return True


def verify_cms_signature(public_key: object, signature: bytes, data: bytes,
                         sig_alg: algos.SignedDigestAlgorithm, digest_name: str) -> None:
    """Verify a CMS signature value (RSA PKCS#1 v1.5 / PSS, ECDSA); raises InvalidSignature."""
    from ltv.validation._extra_digests import EXTRA_HASHES, rsa_sha3

    sha3 = rsa_sha3(sig_alg["algorithm"].dotted)
    algo = "rsassa_pkcs1v15" if sha3 else str(sig_alg.signature_algo)
    try:
        hash_name = sha3 or str(sig_alg.hash_algo)
    except ValueError:
        hash_name = digest_name

    hash_types: dict[str, type[hashes.HashAlgorithm]] = {
        "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
        "sha512": hashes.SHA512, **EXTRA_HASHES,
    }
    if hash_name not in hash_types:
        raise UnsupportedAlgorithmError(f"unsupported signature hash {hash_name}")
    h = hash_types[hash_name]()
    digest = hashlib.new(hash_name, data).digest()
    pre = utils.Prehashed(h)
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if algo == "rsassa_pss":
                params = sig_alg["parameters"]
                salt = int(params["salt_length"].native)
                mgf_hash = hash_types[str(params["mask_gen_algorithm"]["parameters"]
                                          ["algorithm"].native)]()
                public_key.verify(signature, digest,
                                  padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=salt), pre)
            elif algo == "rsassa_pkcs1v15":
                public_key.verify(signature, digest, padding.PKCS1v15(), pre)
            else:
                raise UnsupportedAlgorithmError(f"{algo} does not fit an RSA key")
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if algo != "ecdsa":
                raise UnsupportedAlgorithmError(f"{algo} does not fit an EC key")
            public_key.verify(signature, digest, ec.ECDSA(pre))
        else:
            raise UnsupportedAlgorithmError(f"unsupported key type {type(public_key).__name__}")
    except (ValueError, KeyError) as exc:
        if isinstance(exc, UnsupportedAlgorithmError):
            raise
        raise InvalidSignature(str(exc)) from exc


# ---------------------------------------------------------------------------------------------
# Time-stamps


def _timestamps(parts: cms.SignedDataParts, info: cms.SignerInfoParts,
                signed: dict[str, list[bytes]], content: bytes | None,
                certificates: Sequence[x509.Certificate], signature_value: bytes,
                errors: list[str], bound: Sequence[bytes]) -> list[TimestampFacts]:
    out: list[TimestampFacts] = []
    sig_covers = frozenset({poe_digest(signature_value), *(poe_digest(b) for b in bound)})
    for token in signed.get(OID_CONTENT_TIME_STAMP, []):
        out.append(timestamp_facts(
            token, kind=TimestampKind.CONTENT, label="content-time-stamp",
            expected=(lambda alg: alg.digest(content)) if content is not None else None,
            covers=frozenset(), extra=certificates))
    unsigned = list(info.unsigned_attributes())
    for oid, values in unsigned:
        if oid == OID_SIGNATURE_TIME_STAMP:
            for token in values:
                out.append(timestamp_facts(
                    token, kind=TimestampKind.SIGNATURE, label="signature-time-stamp",
                    expected=lambda alg: alg.digest(signature_value),
                    covers=sig_covers, extra=certificates))
        elif oid == OID_ARCHIVE_TIME_STAMP_V3:
            for token in values:
                out.append(_archive_timestamp(parts, info, token, content, certificates,
                                              sig_covers))
        # archive-time-stamp-v2 and the other legacy stamps: ltv.validation.legacy
    return out


def _archive_timestamp(parts: cms.SignedDataParts, info: cms.SignerInfoParts, token: bytes,
                       content: bytes | None, certificates: Sequence[x509.Certificate],
                       sig_covers: frozenset[bytes]) -> TimestampFacts:
    """An archive-time-stamp-v3: check its imprint (EN 319 122-1 §5.5.3) and work out what it
    covers from the ats-hash-index-v3 in its own unsigned attributes (§5.5.2)."""
    from ltv.formats.cades import archive_timestamp_imprint

    index_raw = _hash_index(token)
    covers: set[bytes] = set(sig_covers)
    message: str | None = None

    def expected(alg: DigestAlgorithm) -> bytes:
        if index_raw is None:
            raise _ImprintUnavailable("the archive-time-stamp-v3 carries no ats-hash-index-v3")
        if content is None:
            raise _ImprintUnavailable("the signed data is needed to check the archive "
                                      "time-stamp (--detached DATA)")
        return archive_timestamp_imprint(parts, info, index_raw, alg, alg.digest(content))

    if index_raw is not None:
        try:
            covers |= _covered_by_index(parts, info, index_raw)
        except (ValueError, KeyError, TypeError, LtvError) as exc:
            message = f"the ats-hash-index-v3 is malformed: {exc}"
    facts = timestamp_facts(token, kind=TimestampKind.ARCHIVE, label="archive-time-stamp-v3",
                            expected=expected, covers=frozenset(covers), extra=certificates)
    if message is not None and facts.imprint_ok:
        return _replace(facts, imprint_ok=False, imprint_message=message)
    return facts


def _replace(facts: TimestampFacts, **changes: object) -> TimestampFacts:
    from dataclasses import replace

    return replace(facts, **changes)  # type: ignore[arg-type]


def _hash_index(token: bytes) -> bytes | None:
    try:
        token_parts = cms.parse_signed_data(token)
    except LtvError:
        return None
    for oid, values in token_parts.signer_infos[0].unsigned_attributes():
        # ats-hash-index (v1, TS 101 733 v2.2.1) has the same imprint rule (JIS X 5092 files)
        if oid in (OID_ATS_HASH_INDEX_V3, OID_ATS_HASH_INDEX_V1) and values:
            return values[0]
    return None


def _covered_by_index(parts: cms.SignedDataParts, info: cms.SignerInfoParts,
                      index_raw: bytes) -> set[bytes]:
    """POE digests of what the hash index lists: certificates, revocation data, and the
    time-stamp tokens (their signature values and certificates) among the unsigned attributes."""
    element = cms.read_single(index_raw, "ats-hash-index-v3")
    kids = element.children()
    alg = DigestAlgorithm.SHA256
    if kids and kids[0].tag == cms.TAG_SEQUENCE and kids[0].children()[0].tag == cms.TAG_OID:
        oid = core.ObjectIdentifier.load(kids[0].children()[0].raw).dotted
        alg = DigestAlgorithm.from_oid(oid)
        kids = kids[1:]
    if len(kids) != 3:
        raise MalformedError("ats-hash-index-v3 needs three hash lists")
    cert_hashes = {k.content for k in kids[0].children()}
    crl_hashes = {k.content for k in kids[1].children()}
    attr_hashes = {k.content for k in kids[2].children()}
    covered: set[bytes] = set()
    for raw in parts.certificates or ():
        if alg.digest(raw) in cert_hashes:
            covered.add(poe_digest(raw))
    for raw in parts.crls or ():
        if alg.digest(raw) in crl_hashes:
            if raw[0] == cms.TAG_CTX1:
                inner = cms.read_single(raw, "RevocationInfoChoice").children()
                if len(inner) == 2:
                    covered.add(poe_digest(inner[1].raw))
            else:
                covered.add(poe_digest(raw))
    for raw in info.unsigned_attrs or ():
        oid, type_raw, values = cms.attribute_parts(raw)
        for value in values:
            # v3 hashes attrType || each value; v1 (TS 101 733 v2.2.1) the whole attribute
            if alg.digest(type_raw + value) not in attr_hashes and alg.digest(raw) not in (
                    attr_hashes):
                continue
            covered.add(poe_digest(value))
            if oid in (OID_SIGNATURE_TIME_STAMP, OID_ARCHIVE_TIME_STAMP_V3):
                covered |= _token_objects(value)
            covered |= legacy.covered_by_value(oid, value)  # ATSv2, ES-X stamps, values
    return covered


def _token_objects(token: bytes) -> set[bytes]:
    """POE digests a time-stamp token brings along: its signature value and certificates."""
    out: set[bytes] = set()
    try:
        tparts = cms.parse_signed_data(token)
    except LtvError:
        return out
    out.add(poe_digest(tparts.signer_infos[0].signature_value))
    for raw in tparts.certificates or ():
        if raw[0] == cms.TAG_SEQUENCE:
            out.add(poe_digest(raw))
    return out


class _ImprintUnavailable(Exception):
    pass


def timestamp_facts(token: bytes, *, kind: TimestampKind, label: str,
                    expected: object, covers: frozenset[bytes],
                    extra: Sequence[x509.Certificate] = ()) -> TimestampFacts:
    """Parse and check one RFC 3161 token (:func:`ltv.timestamps.parse_token`) and its imprint.

    ``expected`` maps the token's imprint hash algorithm to the digest it must carry (or is
    None when the covered data is unavailable). A token that does not parse at all becomes an
    integrity failure of that time-stamp, not of the signature.
    """
    from ltv.errors import TimestampError
    from ltv.timestamps import parse_token

    try:
        tparts = cms.parse_signed_data(token)
        token_sig = tparts.signer_infos[0].signature_value
        token_certs, _ = _certificates(tparts)
        structure = certificates_problem(tparts.certificates or ())
        if structure is not None:
            raise MalformedError(f"the time-stamp token: {structure}")
        token_uses = cms_algorithm_uses(tparts.signer_infos[0].parsed(),
                                        where="time-stamp token SignerInfo", ess=False)
    except LtvError as exc:
        return TimestampFacts(
            kind=kind, token=token, gen_time=datetime.min.replace(tzinfo=UTC),
            signature_value=b"", tsa_certificate=None, label=label,
            integrity=IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE, str(exc)),
            imprint_ok=False, covers=frozenset(),
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        return TimestampFacts(
            kind=kind, token=token, gen_time=datetime.min.replace(tzinfo=UTC),
            signature_value=b"", tsa_certificate=None, label=label,
            integrity=IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE,
                                             f"the time-stamp token does not parse: {exc}"),
            imprint_ok=False, covers=frozenset(),
        )
    all_covers = covers
    try:
        parsed = parse_token(token, extra_certificates=extra)
    except TimestampError as exc:
        status = (IntegrityStatus.HASH_FAILURE if "message-digest" in str(exc)
                  else IntegrityStatus.SIG_CRYPTO_FAILURE)
        return TimestampFacts(
            kind=kind, token=token, gen_time=_gen_time_unchecked(token),
            signature_value=token_sig, tsa_certificate=None, certificates=tuple(token_certs),
            integrity=IntegrityResult.failed(status, str(exc)), imprint_ok=False,
            covers=frozenset(), label=label,
        )
    except MalformedError as exc:
        return TimestampFacts(
            kind=kind, token=token, gen_time=datetime.min.replace(tzinfo=UTC),
            signature_value=token_sig, tsa_certificate=None, label=label,
            integrity=IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE, str(exc)),
            imprint_ok=False, covers=frozenset(),
        )
    imprint_ok = True
    imprint_message: str | None = None
    if expected is None or not callable(expected):
        imprint_ok = False
        imprint_message = "the data this time-stamp covers is not available"
    else:
        try:
            want = expected(parsed.digest_algorithm)
            if not hmac.compare_digest(want, parsed.message_digest):
                imprint_ok = False
                imprint_message = (f"the {label} does not cover this signature: its "
                                   f"{parsed.digest_algorithm.value} message imprint differs")
        except _ImprintUnavailable as exc:
            imprint_ok = False
            imprint_message = str(exc)
    return TimestampFacts(
        kind=kind, token=token, gen_time=parsed.gen_time, signature_value=token_sig,
        tsa_certificate=parsed.signer_certificate, certificates=parsed.certificates,
        imprint_ok=imprint_ok, imprint_message=imprint_message,
        digest_algorithm=parsed.digest_algorithm.value,
        covers=all_covers if imprint_ok else frozenset(), label=label,
        algorithm_uses=token_uses,
    )


def _gen_time_unchecked(token: bytes) -> datetime:
    try:
        info = asn1_cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"]
        value = info.parsed["gen_time"].native
        if isinstance(value, datetime):
            return value.astimezone(UTC)
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return datetime.min.replace(tzinfo=UTC)
