"""PAdES baseline signatures, B-B to B-LTA (ETSI EN 319 142-1), on pyHanko, from the phone's key.

**B-B** (EN 319 142-1 §6.3, Table 1): an approval signature in an incremental update; signature
dictionary with ``/SubFilter /ETSI.CAdES.detached`` and ``/M`` (the claimed signing time, which
is never put in the CMS: no ``signing-time`` attribute), a DER CMS ``SignedData`` without
encapsulated content and exactly one ``SignerInfo`` whose signed attributes are content-type,
message-digest (of the ``/ByteRange``) and signing-certificate-v2. :func:`BACKEND.prepare
<PadesBackend.prepare>` runs pyHanko's interrupted signing up to the byte-range digest and hands
the phone the digest of the DER signed attributes.

**Cross-process finish.** ``prepare`` keeps the *incremental update* it appended (the bytes
after the original document, a few KiB, zlib-compressed; the reserved ``/Contents`` is zeros) in
the pending state, with the byte-range digest and the signed attributes. ``assemble`` writes the
original document (whose digest :func:`ltv.signing.finish` has already checked) followed by that
update, re-hashes the byte range while copying (one streaming pass) and refuses a mismatch, then
fills ``/Contents``. So any process can finish, the state stays small for a 200 MB document, and
nothing in pyHanko needs to be deterministic (it draws random ``/ID``s and font subset tags).

**B-T** (§6.3 item on time): a ``signature-time-stamp`` unsigned attribute from our
:class:`~ltv.timestamps.TimestampClient`. When the signature is the document's last revision
(our own fresh signatures always are; ``prepare`` reserves room for a token) the token goes into
its CMS in place: ``/Contents`` lies outside the ``/ByteRange``, so no signed byte changes.
Otherwise (a signature followed by other revisions) a document time-stamp provides the time,
as EN 319 142-1 allows for B-T.

**B-LT**: a ``/DSS`` (catalog, ISO 32000-2 §12.8.4.3) with the certificates, OCSP responses and
CRLs of :func:`ltv.evidence.collect` for every signer, every signature- and document-time-stamp
TSA and (inside ``collect``) every OCSP responder and CRL issuer; no ``/VRI`` (not to be used
for PAdES baseline).

**B-LTA**: a document time-stamp (``/Type /DocTimeStamp``, ``/SubFilter /ETSI.RFC3161``) after
the DSS. Renewal is the same call on a B-LTA document: the DSS update then also holds fresh
revocation data for the previous document time-stamp's TSA chain, and a new document time-stamp
follows; it repeats any number of times.

Large documents: a :class:`~pathlib.Path` is read as a stream and written to a file
(:func:`finish_to_file`, :func:`extend_file`); every later revision is appended in place.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import shutil
import tempfile
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ltv import evidence as _evidence
from ltv._aio import run_sync
from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.errors import InputError, LtvError, MalformedError, SessionError
from ltv.signing import (
    Document,
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    check_signature_value,
)
from ltv.tbs import DataToBeSigned, TbsForm

if TYPE_CHECKING:
    from ltv.timestamps import TimestampClient, TimestampToken

__all__ = [
    "BACKEND",
    "PadesBackend",
    "extend_file",
    "finish_to_file",
    "pdf_errors",
    "to_lt",
    "to_lta",
    "to_t",
]

STATE_SCHEMA = "ltv.pades-state/1"

_CHUNK = 1 << 20
#: Hex characters reserved in ``/Contents`` for a signature time-stamp token added in place:
#: an RSA token with its TSA certificate is ~3 KiB, an ML-DSA-65 / ML-DSA-87 token with its
#: certificate (issued by an ML-DSA-87 root) ~10.5 / ~13.5 KiB; a longer TSA chain falls
#: back to a document time-stamp, see :func:`to_t`. Unused room stays zeros.
_TOKEN_ALLOWANCE = 2 * 16_384

_T = TypeVar("_T")

_ID_SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"  # id-aa-signatureTimeStampToken


# ---------------------------------------------------------------------------------------------
# Errors at the boundary: pyHanko raises raw exceptions on malformed PDFs.


@contextmanager
def pdf_errors(stage: str) -> Iterator[None]:
    """Map pyHanko's exceptions (and the raw ones it lets through) to our InputErrors."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.general import SigningError

    try:
        yield
    except LtvError:
        raise
    except SigningError as exc:
        raise InputError(f"{stage}: {_one_line(exc)}") from exc
    except RecursionError as exc:
        raise MalformedError(f"{stage}: the PDF nests objects too deeply") from exc
    except (PdfError, ValueError, AssertionError, KeyError, IndexError, TypeError,
            AttributeError, EOFError, OverflowError, zlib.error) as exc:
        raise MalformedError(f"{stage}: the PDF is damaged ({_one_line(exc)})") from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _open_reader(stream: BinaryIO, *, for_new_signature: bool) -> Any:
    """Open a PDF for an incremental update, refusing what we cannot or must not change."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    stream.seek(0)
    head = stream.read(1024)
    stream.seek(0)
    if b"%PDF-" not in head:
        raise MalformedError("not a PDF: no %PDF- header in the first 1024 bytes")
    with pdf_errors("cannot read the PDF"):
        reader = PdfFileReader(stream)
        if reader.encrypted:
            raise InputError(
                "the PDF is encrypted; ltv takes no PDF passwords: decrypt it first "
                "(e.g. qpdf --decrypt)"
            )
        reader.root  # noqa: B018  (touch the catalog: a broken xref fails here)
        if for_new_signature:
            from pyhanko.sign.fields import MDPPerm
            from pyhanko.sign.validation import read_certification_data

            certification = read_certification_data(reader)
            if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
                raise InputError(
                    "the PDF's certification signature forbids any change (DocMDP P=1); "
                    "it cannot be signed again"
                )
    return reader


# ---------------------------------------------------------------------------------------------
# pyHanko adapters


def _asn1_cert(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _crypto_cert(cert: Any) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def _signature_mechanism(mechanism: SignatureMechanism, digest: DigestAlgorithm) -> Any:
    """The CMS ``signatureAlgorithm`` for our mechanism (RFC 5754, RFC 4056, RFC 5753)."""
    from asn1crypto import algos

    if mechanism is SignatureMechanism.RSA_PKCS1V15:
        return algos.SignedDigestAlgorithm({"algorithm": f"{digest.value}_rsa"})
    if mechanism is SignatureMechanism.ECDSA:
        return algos.SignedDigestAlgorithm({"algorithm": f"{digest.value}_ecdsa"})
    return algos.SignedDigestAlgorithm({
        "algorithm": "rsassa_pss",
        "parameters": algos.RSASSAPSSParams({
            "hash_algorithm": {"algorithm": digest.value},
            "mask_gen_algorithm": {
                "algorithm": "mgf1", "parameters": {"algorithm": digest.value},
            },
            "salt_length": digest.digest_size,
            "trailer_field": "trailer_field_bc",
        }),
    })


def _placeholder_length(cert: x509.Certificate) -> int:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return (key.key_size + 7) // 8
    if isinstance(key, ec.EllipticCurvePublicKey):
        return 2 * ((key.curve.key_size + 7) // 8) + 9
    return 512


def _external_signer(chain: Sequence[x509.Certificate], *, value: bytes,
                     mechanism: SignatureMechanism, digest: DigestAlgorithm) -> Any:
    from pyhanko.sign.signers.pdf_cms import ExternalSigner

    signing_cert, registry = _chain_material(
        tuple(c.public_bytes(serialization.Encoding.DER) for c in chain))
    signer: Any = ExternalSigner
    return signer(
        signing_cert=signing_cert,
        cert_registry=registry,  # the signer's certificate: once, as signing_cert
        signature_value=value,
        signature_mechanism=_signature_mechanism(mechanism, digest),
    )


_CHAIN_CACHE_SIZE = 16
_chain_local = threading.local()


def _chain_material(chain_der: tuple[bytes, ...]) -> tuple[Any, Any]:
    """pyHanko's view of a signer chain: the signer's asn1crypto certificate and a certificate
    store of the others. Registering a certificate normalises its names (a few milliseconds
    a chain), so the pair is kept per exact chain (DER) for the last few chains, per thread
    (asn1crypto parses lazily and is not safe to share): it is derived from nothing but those
    bytes and only read by the CMS builder."""
    cache: dict[tuple[bytes, ...], tuple[Any, Any]] | None = getattr(_chain_local, "cache", None)
    if cache is None:
        cache = _chain_local.cache = {}
    found = cache.get(chain_der)
    if found is not None:
        return found
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    store: Any = SimpleCertificateStore
    material = (asn1_x509.Certificate.load(chain_der[0]),
                store.from_certs([asn1_x509.Certificate.load(der) for der in chain_der[1:]]))
    if len(cache) >= _CHAIN_CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[chain_der] = material
    return material


_adapters_lock = threading.Lock()
_adapters: dict[int, tuple[object, Any]] = {}


def _timestamper(client: TimestampClient) -> Any:
    """A pyHanko ``TimeStamper`` over our client that records the token it obtained.

    A fresh instance per call (so the recorded token is this call's), sharing per client the
    dummy-token cache pyHanko uses to size ``/Contents`` (one TSA round trip per process).
    """
    with _adapters_lock:
        entry = _adapters.get(id(client))
        if entry is None or entry[0] is not client:
            entry = (client, _make_timestamper(client))
            _adapters[id(client)] = entry
    shared = entry[1]
    recorder = _make_timestamper(client)
    recorder._dummy_response_cache = shared._dummy_response_cache
    recorder._certs = shared._certs
    recorder.cert_registry = shared.cert_registry
    return recorder


def _make_timestamper(client: TimestampClient) -> Any:
    from asn1crypto import cms
    from pyhanko.sign.timestamps.api import TimeStamper

    base: Any = TimeStamper

    class LtvTimeStamper(base):  # type: ignore[misc]
        """pyHanko's TimeStamper over :class:`ltv.timestamps.TimestampClient` (RFC 3161)."""

        def __init__(self) -> None:
            super().__init__(include_nonce=False)
            self.tokens: list[TimestampToken] = []

        async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
            token = client.timestamp(message_digest, DigestAlgorithm.from_name(md_algorithm))
            self.tokens.append(token)
            return cms.ContentInfo.load(token.der)

    return LtvTimeStamper()


# ---------------------------------------------------------------------------------------------
# B-B: prepare and assemble


def _copy(src: BinaryIO, dst: IO[bytes], *, hasher: Any = None) -> int:
    total = 0
    src.seek(0)
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        if hasher is not None:
            hasher.update(chunk)
        total += len(chunk)
    return total


@contextmanager
def _document_stream(document: Document) -> Iterator[BinaryIO]:
    if isinstance(document, Path):
        try:
            with document.open("rb") as stream:
                yield stream
        except FileNotFoundError as exc:
            raise InputError(f"no such document: {document}") from exc
    else:
        yield io.BytesIO(document)


def _new_field_name(reader: Any) -> tuple[str, int]:
    """A fresh ``SignatureN`` field name, and how many signature fields exist already."""
    from pyhanko.sign.fields import enumerate_sig_fields

    names = {str(name) for name, *_ in enumerate_sig_fields(reader, filled_status=None)}
    n = len(names) + 1
    while f"Signature{n}" in names:
        n += 1
    return f"Signature{n}", len(names)


class PadesBackend:
    """:class:`ltv.signing.FormatBackend` for PAdES (EN 319 142-1 baseline)."""

    format = SignatureFormat.PADES

    def prepare(
        self,
        document: Document,
        signer_chain: Sequence[x509.Certificate],
        *,
        level: SignatureLevel,
        options: SigningOptions,
        signing_time: datetime,
    ) -> tuple[DataToBeSigned, dict[str, Any]]:
        """Append the signature's incremental update and compute the data to be signed."""
        digest = options.digest_algorithm
        if digest is DigestAlgorithm.SHA1:
            raise InputError("PAdES signatures with SHA-1 are refused; use sha256 or stronger")
        mechanism = options.mechanism or SignatureMechanism.RSA_PKCS1V15
        with _document_stream(document) as src, tempfile.SpooledTemporaryFile(
            max_size=16 << 20
        ) as out:
            reader = _open_reader(src, for_new_signature=True)
            original_length = src.seek(0, io.SEEK_END)
            with pdf_errors("cannot prepare the PDF for signing"):
                prepared, attrs_der, field, fresh = _prepare_update(
                    reader, out, signer_chain, level=level, options=options,
                    mechanism=mechanism, signing_time=signing_time,
                )
            total = out.seek(0, io.SEEK_END)
            if not original_length < prepared.reserved_region_start < total:
                raise InputError("pyHanko placed the signature outside its own update")
            # The update must follow the original bytes untouched (compared, not hashed twice).
            if not _same_prefix(out, src, original_length):
                raise InputError("the prepared PDF does not start with the original document")
            out.seek(original_length)
            increment = out.read()
        tbs = DataToBeSigned(
            form=TbsForm.MESSAGE, data=attrs_der, digest_algorithm=digest, mechanism=mechanism
        )
        state: dict[str, Any] = {
            "schema": STATE_SCHEMA,
            "field_name": field,
            "original_length": original_length,
            "increment": base64.b64encode(zlib.compress(increment, 6)).decode("ascii"),
            "increment_sha256": hashlib.sha256(increment).hexdigest(),
            "reserved_region": [prepared.reserved_region_start, prepared.reserved_region_end],
            "byte_range_digest": prepared.document_digest.hex(),
            "signed_attributes": base64.b64encode(attrs_der).decode("ascii"),
            # no signature field before ours: finish may time-stamp the signature before it
            # fills /Contents instead of reading the whole PDF back (absent: the general path)
            "fresh": fresh,
        }
        return tbs.as_form(options.tbs_form) if options.tbs_form is not TbsForm.MESSAGE \
            else tbs, state

    def assemble(
        self, document: Document, pending: PendingSignature, signature_value: bytes
    ) -> bytes:
        """Rebuild the prepared document from the kept update and embed the CMS (B-B)."""
        out = io.BytesIO()
        with _document_stream(document) as src:
            _assemble_into(src, out, pending, signature_value)
        return out.getvalue()

    def assemble_and_augment(
        self,
        document: Document,
        pending: PendingSignature,
        signature_value: bytes,
        *,
        services: SigningServices,
    ) -> bytes:
        """``assemble`` then ``augment`` to the pending level in one buffer (what
        :func:`ltv.signing.finish` calls): a signature in a PDF that had none gets its
        signature-time-stamp before ``/Contents`` is filled, and the level steps start from
        what was just built instead of parsing the PDF again."""
        out = io.BytesIO()
        raise_to = pending.level > SignatureLevel.B_B
        with _document_stream(document) as src:
            view = _assemble_into(src, out, pending, signature_value,
                                  services=services if raise_to else None)
        if raise_to:
            _augment_stream(out, pending.level, services, view=view)
        return out.getvalue()

    def augment(
        self,
        signed: bytes,
        level: SignatureLevel,
        *,
        detached_content: Document | None,
        services: SigningServices,
    ) -> bytes:
        """Raise every signature of ``signed`` to ``level`` (B-LTA again: renewal)."""
        if detached_content is not None:
            raise InputError("a PAdES signature has no detached content")
        stream = io.BytesIO(signed)
        _augment_stream(stream, level, services)
        return stream.getvalue()


def _same_prefix(out: IO[bytes], src: BinaryIO, length: int) -> bool:
    """Whether the first ``length`` bytes of ``out`` are those of ``src`` (chunk by chunk)."""
    out.seek(0)
    src.seek(0)
    remaining = length
    while remaining:
        want = min(_CHUNK, remaining)
        chunk = out.read(want)
        if not chunk or chunk != src.read(want):
            return False
        remaining -= len(chunk)
    return True


def _signed_attributes(signer: x509.Certificate, digest: DigestAlgorithm,
                       document_digest: bytes) -> bytes:
    """DER ``SET OF`` signed attributes of a PAdES B-B signature (EN 319 142-1 §5.2):
    content-type id-data, message-digest of the byte range, signing-certificate-v2.

    Byte for byte what pyHanko's ``Signer.signed_attrs(..., use_pades=True)`` produces (its
    ESSCertIDv2 always hashes the certificate with SHA-256, the DER default, so hashAlgorithm
    is absent), encoded directly instead of through asn1crypto's object model, which re-encodes
    the certificate's issuer name field by field (about 15 ms a signature).
    """
    from ltv.formats.cades import signing_certificate_v2
    from ltv.formats.cms import TAG_OCTET_STRING, TAG_SET, attribute, encode_oid, tlv

    attributes = [
        attribute("1.2.840.113549.1.9.3", [encode_oid("1.2.840.113549.1.7.1")]),
        attribute("1.2.840.113549.1.9.4", [tlv(TAG_OCTET_STRING, document_digest)]),
        attribute("1.2.840.113549.1.9.16.2.47",
                  [signing_certificate_v2(signer, DigestAlgorithm.SHA256)]),
    ]
    return tlv(TAG_SET, b"".join(sorted(attributes)))


def _prepare_update(
    reader: Any,
    out: IO[bytes],
    chain: Sequence[x509.Certificate],
    *,
    level: SignatureLevel,
    options: SigningOptions,
    mechanism: SignatureMechanism,
    signing_time: datetime,
) -> tuple[Any, bytes, str, bool]:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
    from pyhanko.stamp import TextStampStyle

    digest = options.digest_algorithm
    field, index = _new_field_name(reader)
    signer = _external_signer(chain, value=bytes(_placeholder_length(chain[0])),
                              mechanism=mechanism, digest=digest)
    # Size /Contents: the chain, the value, attributes and algorithm identifiers (well under
    # 1 KiB), as hex; plus room for a signature time-stamp token at B-T and above.
    certs = sum(len(c.public_bytes(serialization.Encoding.DER)) for c in chain)
    reserved = 2 * (certs + _placeholder_length(chain[0]) + 1024)
    if level >= SignatureLevel.B_T:
        reserved += _TOKEN_ALLOWANCE
    meta = PdfSignatureMetadata(
        field_name=field,
        md_algorithm=digest.value,
        subfilter=SigSeedSubFilter.PADES,
        reason=options.reason,
        location=options.location,
    )
    text_params: dict[str, str] | None = None
    if options.visible:
        from ltv.formats._pdf_stamp import stamp_for

        stamp = stamp_for(chain[0], signing_time=signing_time, reason=options.reason,
                          location=options.location, index=index)
        style: Any = stamp.style
        field_spec = SigFieldSpec(sig_field_name=field, box=stamp.box, on_page=0)
        text_params = stamp.text_params
    else:
        style = TextStampStyle(stamp_text="")
        field_spec = SigFieldSpec(sig_field_name=field)
    pdf_signer = PdfSigner(meta, signer, stamp_style=style, new_field_spec=field_spec)
    writer = IncrementalPdfFileWriter.from_reader(reader)
    session = pdf_signer.init_signing_session(writer)
    session.system_time = signing_time  # /M: our clock, not pyHanko's
    tbs_document = session.prepare_tbs_document(
        validation_info=None, bytes_reserved=reserved, appearance_text_params=text_params
    )
    prepared, _ = tbs_document.digest_tbs_document(output=out)
    attrs = _signed_attributes(chain[0], digest, prepared.document_digest)
    return prepared, attrs, field, index == 0


def _read_state(pending: PendingSignature) -> dict[str, Any]:
    state = dict(pending.format_state)
    if state.get("schema") != STATE_SCHEMA:
        raise SessionError(f"the pending PAdES state is not of schema {STATE_SCHEMA}")
    return state


def _assemble_into(
    src: BinaryIO, out: BinaryIO, pending: PendingSignature, signature_value: bytes,
    *, services: SigningServices | None = None,
) -> _View | None:
    """Write the prepared document (original + kept update) and fill ``/Contents``.

    With ``services`` (a level above B-B) and a document that had no signature field before
    ours (``fresh`` in the state), the signature-time-stamp goes into the CMS before
    ``/Contents`` is filled, and the returned view (what :func:`_read_view` would find in the
    result) spares the level steps reading the PDF back. Otherwise returns None.
    """
    from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest

    state = _read_state(pending)
    try:
        increment = zlib.decompress(base64.b64decode(state["increment"], validate=True))
        start, end = (int(x) for x in state["reserved_region"])
        original_length = int(state["original_length"])
        expected = bytes.fromhex(state["byte_range_digest"])
        attrs_der = base64.b64decode(state["signed_attributes"], validate=True)
    except (KeyError, TypeError, ValueError, zlib.error, binascii.Error) as exc:
        raise SessionError(f"the pending PAdES state is damaged: {exc}") from exc
    if hashlib.sha256(increment).hexdigest() != state.get("increment_sha256"):
        raise SessionError("the pending PAdES state is damaged: the kept update changed")
    digest = pending.data_to_be_signed.digest_algorithm
    hasher = hashlib.new(digest.value)
    copied = _copy(src, out, hasher=hasher)
    if copied != original_length:
        raise InputError("the document differs from the one this signing session was prepared for")
    out.write(increment)
    hasher.update(increment[: start - original_length])
    hasher.update(increment[end - original_length :])
    if hasher.digest() != expected:
        raise SessionError("the rebuilt document does not match the prepared byte-range digest")
    region = PreparedByteRangeDigest(
        document_digest=expected, reserved_region_start=start, reserved_region_end=end)
    view: _View | None = None
    cms_der = _signature_cms(pending, attrs_der, signature_value)
    left_out: list[x509.Certificate] = []
    if services is not None and state.get("fresh") is True:
        view, filled = _timestamped_view(pending, attrs_der, signature_value, services,
                                         room=end - start - 2)
        if filled is not None:
            cms_der, left_out = filled
    with pdf_errors("cannot embed the signature"):
        region.fill_with_cms(out, cms_der)
    out.seek(0, io.SEEK_END)
    if left_out:  # the token went in without its chain: keep that in the DSS (as to_t does)
        _write_dss(out, _evidence.EvidenceSet.of(certificates=left_out))
    return view


def _signature_cms(pending: PendingSignature, attrs_der: bytes, signature_value: bytes,
                   unsigned: Sequence[bytes] = ()) -> bytes:
    """The signature's CMS ``ContentInfo`` (EN 319 142-1 §5.1: SignedData without
    eContent, one SignerInfo identified by issuer and serial, the signer chain in
    ``certificates``), ``unsigned`` the SignerInfo's unsigned attributes.

    What pyHanko's ``ExternalSigner.async_sign_prescribed_attributes`` builds (the algorithm
    identifiers with their NULL parameters, every certificate of the chain, the root too),
    written directly from the DER parts instead of through asn1crypto's object model.
    """
    from ltv.formats.cms import (
        OID_DATA,
        TAG_OCTET_STRING,
        TAG_SEQUENCE,
        TAG_SET,
        SignedDataParts,
        SignerInfoParts,
        encode_oid,
        tlv,
    )

    tbs = pending.data_to_be_signed
    chain = tuple(dict.fromkeys(pending.signer_chain))
    signing_cert, _ = _chain_material(pending.signer_chain)
    fields = signing_cert["tbs_certificate"]
    digest_id = tlv(TAG_SEQUENCE, encode_oid(tbs.digest_algorithm.oid) + b"\x05\x00")
    info = SignerInfoParts(
        version=b"\x02\x01\x01",
        sid=tlv(TAG_SEQUENCE, fields["issuer"].dump() + fields["serial_number"].dump()),
        digest_algorithm=digest_id,
        signed_attrs=b"\xa0" + attrs_der[1:],
        signature_algorithm=bytes(_signature_mechanism(tbs.mechanism,
                                                       tbs.digest_algorithm).dump()),
        signature=tlv(TAG_OCTET_STRING, signature_value),
        unsigned_attrs=tuple(unsigned) or None,
    )
    return SignedDataParts(
        version=1,
        digest_algorithms=tlv(TAG_SET, digest_id),
        encap_content_info=tlv(TAG_SEQUENCE, encode_oid(OID_DATA)),
        certificates=chain,
        crls=None,
        signer_infos=(info,),
    ).dump()


def _timestamped_view(
    pending: PendingSignature, attrs_der: bytes, signature_value: bytes,
    services: SigningServices, *, room: int,
) -> tuple[_View | None, tuple[bytes, list[x509.Certificate]] | None]:
    """The signature-time-stamp of a fresh signature (EN 319 142-1 B-T: over the signature
    value, with the signature's digest algorithm), the signature's CMS holding it with the
    certificates left out of the token to make it fit in ``room`` hex characters, and the view
    of the signed document; (None, None) when it cannot fit (the general path then adds it).
    """
    from ltv.formats.cms import attribute

    digest = pending.data_to_be_signed.digest_algorithm
    token = services.require_timestamps().timestamp(digest.digest(signature_value), digest)
    filled: tuple[bytes, list[x509.Certificate]] | None = None
    for slim in (False, True):
        token_der = (_only_signer_certificate(token.der, token.signer_certificate) if slim
                     else token.der)
        der = _signature_cms(pending, attrs_der, signature_value, unsigned=[
            attribute(_ID_SIGNATURE_TIME_STAMP, [token_der])])
        if 2 * len(der) <= room:
            left_out = ([c for c in token.certificates if c != token.signer_certificate]
                        if slim else [])
            filled = (der, left_out)
            break
    if filled is None:
        return None, None
    chain = pending.chain
    view = _View(regular=[], untimed=[],
                 known=_unique([*chain, token.signer_certificate, *token.certificates]),
                 targets=_unique([chain[0], token.signer_certificate]), last_tsa=[], lta=False)
    return view, filled


# ---------------------------------------------------------------------------------------------
# Levels


def _signatures(stream: BinaryIO) -> tuple[Any, list[Any], list[Any]]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    with pdf_errors("cannot read the signatures of the PDF"):
        reader = PdfFileReader(stream)
        if reader.encrypted:
            raise InputError("the PDF is encrypted; ltv takes no PDF passwords")
        regular = list(reader.embedded_regular_signatures)
        timestamps = list(reader.embedded_timestamp_signatures)
    return reader, regular, timestamps


def _signature_tokens(signature: Any) -> list[Any]:
    """The signature-time-stamp tokens (ContentInfo) in a signature's unsigned attributes."""
    attrs = signature.signer_info["unsigned_attrs"]
    if not attrs:
        return []
    tokens: list[Any] = []
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            tokens.extend(attr["values"])
    return tokens


def _cms_signer_certificates(
    signed_data: Any, extra: Sequence[x509.Certificate] = ()
) -> list[x509.Certificate]:
    """The certificates that signed a CMS SignedData, found by their SignerIdentifier among
    its own certificates and ``extra``."""
    from asn1crypto import x509 as asn1_x509

    certs = [c.chosen for c in signed_data["certificates"] or () if c.name == "certificate"]
    certs.extend(asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                 for c in extra)
    found: list[x509.Certificate] = []
    for info in signed_data["signer_infos"]:
        sid = info["sid"]
        for cert in certs:
            if sid.name == "issuer_and_serial_number":
                if (cert.issuer == sid.chosen["issuer"]
                        and cert.serial_number == sid.chosen["serial_number"].native):
                    found.append(_crypto_cert(cert))
                    break
            elif cert.key_identifier == sid.chosen.native:
                found.append(_crypto_cert(cert))
                break
    return found


def _cms_certificates(signed_data: Any) -> list[x509.Certificate]:
    return [_crypto_cert(c.chosen) for c in signed_data["certificates"] or ()
            if c.name == "certificate"]


@dataclass(slots=True, kw_only=True)
class _View:
    """One parse of the PDF: what the level steps need, kept current as they append."""

    regular: list[Any]
    untimed: list[Any]  # signatures with neither a signature- nor a later document time-stamp
    known: list[x509.Certificate]  # every certificate of every CMS, token and the DSS
    targets: list[x509.Certificate]  # signers of signatures, signature and document time-stamps
    last_tsa: list[x509.Certificate]  # the signer of the last document time-stamp
    lta: bool  # last revision is a document time-stamp added after a DSS


def _read_view(stream: BinaryIO) -> _View:
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import ValidationInfoReadingError

    reader, regular, timestamps = _signatures(stream)
    if not regular:
        raise InputError("the PDF has no signature to extend")
    with pdf_errors("cannot read the signatures of the PDF"):
        known = _dss_certificates(reader)
        tokens = [t["content"] for sig in regular for t in _signature_tokens(sig)]
        for signed_data in (*(s.signed_data for s in (*regular, *timestamps)), *tokens):
            known.extend(_cms_certificates(signed_data))
        known = _unique(known)
        targets: list[x509.Certificate] = []
        for signed_data in (*(s.signed_data for s in regular), *tokens,
                            *(t.signed_data for t in timestamps)):
            found = _cms_signer_certificates(signed_data, known)
            if not found:
                raise InputError("a signature or time-stamp in the PDF lacks its signer's "
                                 "certificate")
            targets.extend(found)
        last_ts_revision = max((t.signed_revision for t in timestamps), default=-1)
        untimed = [s for s in regular
                   if not _signature_tokens(s) and s.signed_revision >= last_ts_revision]
        last_tsa: list[x509.Certificate] = []
        lta = False
        if timestamps and not any(s.signed_revision > last_ts_revision for s in regular):
            last = max(timestamps, key=lambda t: t.signed_revision)
            last_tsa = _cms_signer_certificates(last.signed_data, known)
            try:
                DocumentSecurityStore.read_dss(reader)
                dss_revision = reader.xrefs.get_last_change(
                    reader.root.raw_get("/DSS").reference)
                lta = bool(dss_revision < last_ts_revision)
            except (ValidationInfoReadingError, KeyError, AttributeError):
                lta = False
    return _View(regular=regular, untimed=untimed, known=known, targets=_unique(targets),
                 last_tsa=last_tsa, lta=lta)


def _learn(view: _View, token: TimestampToken) -> None:
    view.targets = _unique([*view.targets, token.signer_certificate])
    view.known = _unique([*view.known, token.signer_certificate, *token.certificates])


def to_t(stream: BinaryIO, services: SigningServices, *, view: _View | None = None) -> _View:
    """EN 319 142-1 B-T for every signature of the PDF in ``stream`` (read-write, in place).

    A signature lacking a time gets a signature-time-stamp in its CMS when it is the last
    revision and its ``/Contents`` has room (nothing signed changes); otherwise one document
    time-stamp after all signatures gives them their time.
    """
    client = services.require_timestamps()
    view = view or _read_view(stream)
    untimed = list(view.untimed)
    if not untimed:
        return view
    file_length = stream.seek(0, io.SEEK_END)
    last = untimed[-1]
    if _covers_whole_file(last, file_length):
        embedded = _embed_signature_timestamp(stream, last, client)
        if embedded is not None:
            token, left_out = embedded
            _learn(view, token)
            untimed.pop()
            if left_out:  # the token went in without its chain: keep that in the DSS
                _write_dss(stream, _evidence.EvidenceSet.of(certificates=left_out))
    if untimed:
        _learn(view, _add_document_timestamp(stream, services, digest=_digest_of(untimed[-1])))
    view.untimed = []
    view.lta = False
    return view


def _covers_whole_file(signature: Any, file_length: int) -> bool:
    br = [int(x) for x in signature.byte_range]
    return len(br) == 4 and br[0] == 0 and br[2] + br[3] == file_length


def _digest_of(signature: Any) -> DigestAlgorithm:
    try:
        return DigestAlgorithm.from_name(signature.md_algorithm)
    except InputError:
        return DigestAlgorithm.SHA256


def _embed_signature_timestamp(
    stream: BinaryIO, signature: Any, client: TimestampClient
) -> tuple[TimestampToken, list[x509.Certificate]] | None:
    """Add a signature-time-stamp (RFC 3161 over the signature value) to the CMS in place.

    Returns None when it does not fit; otherwise the token and the certificates left out to
    make it fit (another tool may have reserved little room; only the TSA's own certificate
    stays), which the caller keeps in the DSS. A token's ``certificates`` are outside what the
    TSA signed, so leaving some out keeps it valid.
    """
    from asn1crypto import cms

    br = [int(x) for x in signature.byte_range]
    start, end = br[1], br[2]  # '<' at start, '>' at end - 1
    room = end - start - 2
    stream.seek(start)
    if stream.read(1) != b"<":
        return None
    digest = _digest_of(signature)
    value = cms.ContentInfo.load(signature.pkcs7_content)["content"]["signer_infos"][0][
        "signature"].native
    token = client.timestamp(digest.digest(value), digest)
    fitted = _with_signature_timestamp(bytes(signature.pkcs7_content), token, room=room)
    if fitted is None:
        return None
    hex_value, left_out = fitted
    stream.seek(start + 1)
    stream.write(hex_value + b"0" * (room - len(hex_value)))
    stream.seek(0, io.SEEK_END)
    return token, left_out


def _with_signature_timestamp(
    cms_der: bytes, token: TimestampToken, *, room: int
) -> tuple[bytes, list[x509.Certificate]] | None:
    """The upper-case hex of the CMS ``cms_der`` with ``token`` as a signature-time-stamp
    unsigned attribute, at most ``room`` characters, and the certificates left out to make it
    fit (then only the TSA's own certificate stays in the token); None when it cannot fit or
    the signed attributes would not keep their exact encoding."""
    from asn1crypto import cms

    left_out: list[x509.Certificate] = []
    for slim in (False, True):
        if slim:
            token_der = _only_signer_certificate(token.der, token.signer_certificate)
            left_out = [c for c in token.certificates if c != token.signer_certificate]
        else:
            token_der = token.der
        content = cms.ContentInfo.load(cms_der)
        signer_info = content["content"]["signer_infos"][0]
        signed_attrs_before = signer_info["signed_attrs"].dump()
        attr = cms.CMSAttribute({
            "type": "signature_time_stamp_token",
            "values": [cms.ContentInfo.load(token_der)],
        })
        existing = list(signer_info["unsigned_attrs"]) if signer_info["unsigned_attrs"] else []
        signer_info["unsigned_attrs"] = cms.CMSAttributes([*existing, attr])
        der = _dump_keeping_signed_attrs(content, signed_attrs_before)
        if der is None:
            return None
        hex_value = binascii.hexlify(der).upper()
        if len(hex_value) <= room:
            return hex_value, left_out
    return None


def _only_signer_certificate(token_der: bytes, signer: x509.Certificate) -> bytes:
    """The same RFC 3161 token with only the TSA's own certificate in its (unsigned)
    ``certificates`` field (validators such as pyHanko's need that one inside)."""
    from asn1crypto import cms

    content = cms.ContentInfo.load(token_der)
    sd = content["content"]
    slim = cms.SignedData({
        "version": sd["version"],
        "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"],
        "certificates": [cms.CertificateChoices(name="certificate", value=_asn1_cert(signer))],
        "signer_infos": sd["signer_infos"],
    })
    der = bytes(cms.ContentInfo({"content_type": "signed_data", "content": slim}).dump())
    again = cms.ContentInfo.load(der)["content"]
    if (again["encap_content_info"].dump() != sd["encap_content_info"].dump()
            or again["signer_infos"].dump() != sd["signer_infos"].dump()):
        return token_der  # pragma: no cover - asn1crypto kept the encodings so far
    return der


def _dump_keeping_signed_attrs(content: Any, signed_attrs: bytes) -> bytes | None:
    """DER of the modified CMS, provided its signed attributes keep their exact encoding."""
    from asn1crypto import cms

    for force in (False, True):
        der = content.dump(force=force)
        info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
        attrs = info["unsigned_attrs"]
        has_token = bool(attrs) and any(
            a["type"].native == "signature_time_stamp_token" for a in attrs
        )
        if has_token and info["signed_attrs"].dump() == signed_attrs:
            return bytes(der)
    return None


def _add_document_timestamp(
    stream: BinaryIO, services: SigningServices, *, digest: DigestAlgorithm
) -> TimestampToken:
    """Append a document time-stamp (``/SubFilter /ETSI.RFC3161``, EN 319 142-1 §5.4) in place;
    returns its token."""
    import secrets

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    timestamper = _timestamper(services.require_timestamps())
    with pdf_errors("cannot add a document time-stamp"):
        stream.seek(0)
        writer = IncrementalPdfFileWriter(stream)
        run_sync(PdfTimeStamper(timestamper, field_name=f"DocTimeStamp-{secrets.token_hex(6)}")
             .async_timestamp_pdf(writer, digest.value, in_place=True))
    stream.seek(0, io.SEEK_END)
    token: TimestampToken = timestamper.tokens[-1]
    return token


def _dss_certificates(reader: Any) -> list[x509.Certificate]:
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import ValidationInfoReadingError

    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except ValidationInfoReadingError:
        return []
    return [_crypto_cert(c) for c in dss.load_certs()]


def _unique(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    out: list[x509.Certificate] = []
    for cert in certs:
        der = cert.public_bytes(serialization.Encoding.DER)
        if der not in seen:
            seen.add(der)
            out.append(cert)
    return out


def to_lt(
    stream: BinaryIO, services: SigningServices, *, view: _View | None = None
) -> _evidence.EvidenceSet:
    """EN 319 142-1 B-LT: B-T, then a DSS update with the evidence of every chain (in place).

    The DSS receives exactly :func:`ltv.evidence.collect`'s set for the signers and the TSAs of
    every signature and document time-stamp present (responder and CRL-issuer chains are
    collected inside); returns that set.
    """
    view = to_t(stream, services, view=view)
    collected = _evidence.collect(view.targets, services=services, available=view.known)
    _write_dss(stream, collected)
    return collected


def _write_dss(stream: BinaryIO, collected: _evidence.EvidenceSet) -> None:
    """Add an incremental update with ``/DSS`` ``/Certs``, ``/OCSPs``, ``/CRLs`` (no ``/VRI``)."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    with pdf_errors("cannot write the document security store"):
        stream.seek(0)
        writer = IncrementalPdfFileWriter(stream)
        DocumentSecurityStore.supply_dss_in_writer(
            writer,
            None,
            certs=[_asn1_cert(c) for c in collected.certificates],
            ocsps=[asn1_ocsp.OCSPResponse.load(d) for d in collected.ocsp_responses],
            crls=[asn1_crl.CertificateList.load(d) for d in collected.crls],
        )
        writer_any: Any = writer
        writer_any.write_in_place()
    stream.seek(0, io.SEEK_END)


def to_lta(
    stream: BinaryIO, services: SigningServices, *, view: _View | None = None
) -> _evidence.EvidenceSet:
    """EN 319 142-1 B-LTA: B-LT, then a document time-stamp over everything (in place).

    On a B-LTA document this is the renewal: the DSS update first adds validation data for the
    previous document time-stamp's TSA chain (everything older is in the DSS already and
    protected by that time-stamp), then a new document time-stamp covers it.
    """
    view = view or _read_view(stream)
    if view.lta:
        collected = _evidence.collect(view.last_tsa, services=services, available=view.known)
        _write_dss(stream, collected)
    else:
        collected = to_lt(stream, services, view=view)
    _add_document_timestamp(stream, services, digest=services.timestamp_digest_or_default())
    return collected


def _is_lta(stream: BinaryIO) -> bool:
    """The last signature is a document time-stamp added after a DSS (B-LTA, EN 319 142-1)."""
    return _read_view(stream).lta


def _augment_stream(stream: BinaryIO, level: SignatureLevel, services: SigningServices,
                    *, view: _View | None = None) -> None:
    view = view or _read_view(stream)
    if level is SignatureLevel.B_T:
        to_t(stream, services, view=view)
    elif level is SignatureLevel.B_LT:
        to_lt(stream, services, view=view)
    elif level is SignatureLevel.B_LTA:
        to_lta(stream, services, view=view)


# ---------------------------------------------------------------------------------------------
# File API for large documents


def finish_to_file(
    pending: PendingSignature,
    signature_value: bytes,
    *,
    document: Path,
    output: Path,
    services: SigningServices | None = None,
) -> None:
    """:func:`ltv.signing.finish` for PAdES, streaming from ``document`` to ``output``.

    Memory stays flat whatever the document's size: the original is copied in 1 MiB chunks
    while the byte range is re-hashed, and every later revision is appended in place.
    """
    from ltv.signing import document_digest

    services = services or SigningServices()
    if services.clock.now() > pending.expires:
        raise SessionError(f"signing session {pending.id} expired")
    if pending.format is not SignatureFormat.PADES:
        raise SessionError("this pending signature is not a PAdES one")
    if document_digest(document) != pending.document_digest:
        raise InputError("the document differs from the one this signing session was prepared for")
    check_signature_value(pending, signature_value)
    partial = output.with_name(output.name + ".part")
    try:
        with _document_stream(document) as src, partial.open("w+b") as out:
            raise_to = pending.level > SignatureLevel.B_B
            view = _assemble_into(src, out, pending, signature_value,
                                  services=services if raise_to else None)
            if raise_to:
                _augment_stream(out, pending.level, services, view=view)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def extend_file(
    signed: Path, level: SignatureLevel, *, output: Path, services: SigningServices
) -> None:
    """:func:`ltv.signing.extend` for PAdES files: copy ``signed`` to ``output`` and append."""
    partial = output.with_name(output.name + ".part")
    try:
        with signed.open("rb") as src, partial.open("w+b") as out:
            shutil.copyfileobj(src, out, _CHUNK)
            _augment_stream(out, level, services)
        partial.replace(output)
    except FileNotFoundError as exc:
        raise InputError(f"no such file: {signed}") from exc
    finally:
        partial.unlink(missing_ok=True)


BACKEND = PadesBackend()
