"""X.509 path building, revocation checking and past certificate validation (glue to
pyhanko-certvalidator), for EN 319 102-1 §5.2.6 (XCV), §5.2.5 (RFC) and §5.6.2.1/§5.6.2.4.

We do not re-implement RFC 5280 path validation: pyhanko-certvalidator builds and validates
paths, checks CRLs and OCSP responses, and runs the past certificate validation and time-slide
algorithms of EN 319 102-1 §5.6.2. This module feeds it our evidence (embedded, fetched
beforehand, archived), our trust anchors and our algorithm sunset dates, never lets it fetch
anything itself, and maps its exceptions to EN 319 102-1 sub-indications
(:func:`classify_error`).

Revocation freshness follows TS 119 172-4 / EN 319 102-1 §5.2.5.4: information is fresh for a
use at time *T* when it was issued after ``T - policy.revocation_freshness``
(:attr:`FreshnessReqType.TIME_AFTER_SIGNATURE` with the usage time moved back by the allowed
age), so an archived OCSP response from signing day still proves the signer's status on that
day, decades later.
"""

from __future__ import annotations

import bisect
import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from asn1crypto import algos, keys
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko_certvalidator.authority import CertTrustAnchor, TrustAnchor
from pyhanko_certvalidator.context import (
    CertValidationPolicySpec,
    ValidationDataHandlers,
    bootstrap_validation_data_handlers,
)
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientPOEError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    PathValidationError,
    RevokedError,
    StaleRevinfoError,
    ValidationError,
)
from pyhanko_certvalidator.ltv.errors import PastValidatePrecheckFailure, TimeSlideFailure
from pyhanko_certvalidator.ltv.poe import KnownPOE, POEManager, POEType
from pyhanko_certvalidator.ltv.time_slide import ades_gather_prima_facie_revinfo, time_slide
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    REQUIRE_REVINFO,
    AlgorithmUsageConstraint,
    AlgorithmUsagePolicy,
    CertRevTrustPolicy,
    FreshnessReqType,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import (
    CertificateRegistry,
    PathBuilder,
    SimpleTrustManager,
    TrustManager,
)
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer
from pyhanko_certvalidator.revinfo.manager import RevinfoManager
from pyhanko_certvalidator.validate import async_validate_path

from ltv._certder import certificate_der
from ltv._lru import ByteBudgetLru
from ltv._memo import digest_of
from ltv.evidence import EvidenceSet
from ltv.validation._certvalidator_errors import UNEXPECTED, describe
from ltv.validation._certvalidator_memo import (
    MemoSignatureValidator,
    der_of,
    install_ocsp_provenance_memo,
    remember_der,
)
from ltv.validation.crypto_constraints import key_constraint, key_facts, public_key_info_facts
from ltv.validation.facts import poe_digest
from ltv.validation.model import SubIndication
from ltv.validation.policy import ValidationPolicy

__all__ = [
    "CertRole",
    "CertificateChecker",
    "PathOutcome",
    "PoeLedger",
    "SunsetAlgorithmPolicy",
    "classify_error",
    "der",
]

#: Current-time results that past signature validation (§5.6.2.4) may still turn into a pass.
PAST_VALIDATION_CANDIDATES = frozenset({
    SubIndication.REVOKED_NO_POE,
    SubIndication.REVOKED_CA_NO_POE,
    SubIndication.OUT_OF_BOUNDS_NO_POE,
    SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE,
    SubIndication.TRY_LATER,
})


_V = TypeVar("_V")


def der(cert: x509.Certificate) -> bytes:
    """The certificate's DER (memoized per object: :mod:`ltv._certder`)."""
    return certificate_der(cert)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return _load_asn1_cert(der(cert))


def _crypto(cert: asn1_x509.Certificate) -> x509.Certificate:
    """The :mod:`cryptography` twin of a parsed certificate (one per shared certificate, so
    :func:`der` finds its DER memoized)."""
    known: x509.Certificate | None = cert.__dict__.get("_ltv_crypto")
    if known is None:
        known = x509.load_der_x509_certificate(der_of(cert))
        cert.__dict__["_ltv_crypto"] = known
    return known


# ---------------------------------------------------------------------------------------------
# Proofs of existence


class PoeLedger:
    """Proofs of existence: earliest known time per object digest, and where it came from.

    Wraps pyhanko-certvalidator's :class:`POEManager` (which keys on the SHA-256 of an
    object's DER, like :func:`ltv.validation.facts.poe_digest`). Its "current time" is the
    validation time ``at``, never the wall clock.
    """

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._manager = POEManager(current_dt_override=at)
        self._sources: dict[bytes, tuple[datetime, str, int | None]] = {}

    def register(self, digest: bytes, when: datetime, *, source: str,
                 index: int | None = None) -> None:
        if when > self.at:
            when = self.at
        known = self._sources.get(digest)
        if known is None or when < known[0]:
            self._sources[digest] = (when, source, index)
        self._manager.register_known_poe(
            KnownPOE(poe_type=POEType.VALIDATION, digest=digest, poe_time=when)
        )

    def register_all(self, digests: Iterable[bytes], when: datetime, *, source: str,
                     index: int | None = None) -> None:
        for digest in digests:
            self.register(digest, when, source=source, index=index)

    def time_of(self, digest: bytes) -> datetime:
        """Earliest POE of the object, or the validation time when nothing older is known."""
        known = self._sources.get(digest)
        return known[0] if known is not None else self.at

    def source_of(self, digest: bytes) -> tuple[datetime, str, int | None] | None:
        return self._sources.get(digest)

    def manager(self) -> POEManager:
        """A copy for one certvalidator run (it registers "now" as a side effect of lookups)."""
        return copy.copy(self._manager)

    def copy(self) -> PoeLedger:
        twin = PoeLedger(self.at)
        twin._manager = copy.copy(self._manager)
        twin._sources = dict(self._sources)
        return twin


# ---------------------------------------------------------------------------------------------
# Algorithm constraints with sunset dates


class SunsetAlgorithmPolicy(AlgorithmUsagePolicy):
    """EN 319 102-1 §5.2.8 cryptographic constraints with dates: a weak digest or short key is
    allowed for a use at a moment before its sunset date, refused after it."""

    def __init__(self, policy: ValidationPolicy) -> None:
        self._policy = policy

    def describe(self, moment: datetime) -> tuple[object, ...]:
        """Every policy value this class's decisions read, and the class of ``moment`` among
        the policy's dates: the number of sunset dates at or before it. The decisions read a
        moment only as ``moment < date`` for those dates, so two moments of one class get the
        same answer for every algorithm and key (the memo key of checks that depend on the
        algorithm policy, :mod:`ltv.validation._certvalidator_memo`)."""
        p = self._policy
        dates = sorted({*p.digest_sunset.values(), p.rsa_sunset, *p.key_sunset.values()})
        return (tuple(sorted(p.digest_sunset.items())), p.min_rsa_bits, p.rsa_sunset,
                p.min_ec_bits, tuple(sorted(p.key_sunset.items())),
                bisect.bisect_right(dates, moment))

    def digest_algorithm_allowed(self, algo: algos.DigestAlgorithm,
                                 moment: datetime | None) -> AlgorithmUsageConstraint:
        name = str(algo["algorithm"].native)
        return self._digest(name, moment)

    def _digest(self, name: str, moment: datetime | None) -> AlgorithmUsageConstraint:
        sunset = self._policy.digest_sunset_for(name)
        if sunset is None or (moment is not None and moment < sunset):
            return AlgorithmUsageConstraint(allowed=True)
        return AlgorithmUsageConstraint(
            allowed=False, not_allowed_after=sunset,
            failure_reason=f"{name} is not accepted after {sunset.date().isoformat()}",
        )

    def signature_algorithm_allowed(self, algo: algos.SignedDigestAlgorithm,
                                    moment: datetime | None,
                                    public_key: keys.PublicKeyInfo | None
                                    ) -> AlgorithmUsageConstraint:
        try:
            hash_name = algo.hash_algo
        except ValueError:
            hash_name = None
        if hash_name:
            verdict = self._digest(str(hash_name), moment)
            if not verdict:
                return verdict
        if public_key is not None:
            return self.key_allowed(*public_key_info_facts(public_key), moment)
        return AlgorithmUsageConstraint(allowed=True)

    def key_allowed(self, algorithm: str, bits: int,
                    moment: datetime | None) -> AlgorithmUsageConstraint:
        """Short keys and key sunsets (RSA-2048/P-256, NIST IR 8547; ML-DSA has none)."""
        return key_constraint(self._policy, algorithm, bits, moment)


def _describe_algorithms(policy: object, moment: datetime) -> tuple[object, ...] | None:
    """Our own algorithm policy's complete content at ``moment``; None for any other policy
    (even a subclass)."""
    if type(policy) is SunsetAlgorithmPolicy:
        try:
            return policy.describe(moment)
        except TypeError:  # a date that does not compare (naive): no memo, the check decides
            return None
    return None


install_ocsp_provenance_memo(_describe_algorithms)
_SIGNATURES = MemoSignatureValidator()


def key_description(public_key: object) -> tuple[str, int]:
    return key_facts(public_key)


# ---------------------------------------------------------------------------------------------
# Results


class CertRole:
    SIGNER = "signer"
    TSA = "tsa"


@dataclass(frozen=True, slots=True, kw_only=True)
class PathOutcome:
    """Result of validating one certificate (at the validation time, or in the past)."""

    subindication: SubIndication | None  # None: passed
    message: str | None = None
    path: tuple[x509.Certificate, ...] = ()  # trust anchor first, the certificate last
    revocation_time: datetime | None = None
    revocation_reason: str | None = None
    revoked_is_ee: bool = False
    time_horizon: datetime | None = None  # when the problem began (expiry, ban, revocation)
    control_time: datetime | None = None  # past validation: last time known good
    failed: bool = False  # a TOTAL-FAILED sub-indication (NOT_YET_VALID, ...)

    @property
    def ok(self) -> bool:
        return self.subindication is None


def classify_error(exc: BaseException) -> PathOutcome:
    """Map a pyhanko-certvalidator exception to the EN 319 102-1 sub-indication."""
    path: tuple[x509.Certificate, ...] = ()
    if isinstance(exc, PathValidationError):
        try:
            path = tuple(_crypto(c) for c in exc.original_path.iter_certs(include_root=True))
        except (AttributeError, TypeError, ValueError):
            path = ()
    message = str(getattr(exc, "failure_msg", None) or exc)
    if isinstance(exc, RevokedError):
        reason = exc.reason.native if exc.reason is not None else None
        if exc.is_side_validation:
            return PathOutcome(subindication=SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                               message=message, path=path)
        sub = SubIndication.REVOKED_NO_POE if exc.is_ee_cert else SubIndication.REVOKED_CA_NO_POE
        return PathOutcome(subindication=sub, message=message, path=path,
                           revocation_time=exc.revocation_dt, revocation_reason=reason,
                           revoked_is_ee=exc.is_ee_cert, time_horizon=exc.revocation_dt)
    if isinstance(exc, (ExpiredError, NotYetValidError)):
        horizon = exc.expired_dt if isinstance(exc, ExpiredError) else exc.valid_from
        if exc.is_side_validation:
            return PathOutcome(subindication=SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                               message=message, path=path, time_horizon=horizon)
        return PathOutcome(subindication=SubIndication.OUT_OF_BOUNDS_NO_POE, message=message,
                           path=path, time_horizon=horizon)
    if isinstance(exc, DisallowedAlgorithmError):
        sub = (SubIndication.CRYPTO_CONSTRAINTS_FAILURE if exc.banned_since is None
               else SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
        return PathOutcome(subindication=sub, message=message, path=path,
                           time_horizon=exc.banned_since)
    if isinstance(exc, InsufficientPOEError):
        return PathOutcome(subindication=SubIndication.NO_POE, message=message, path=path)
    if isinstance(exc, StaleRevinfoError):
        return PathOutcome(subindication=SubIndication.TRY_LATER, message=message, path=path,
                           time_horizon=exc.time_cutoff)
    if isinstance(exc, InsufficientRevinfoError):
        # DSS answers INDETERMINATE / TRY_LATER when no acceptable revocation data exists.
        return PathOutcome(subindication=SubIndication.TRY_LATER, message=message, path=path)
    if isinstance(exc, (TimeSlideFailure, PastValidatePrecheckFailure)):
        cause = exc.__cause__
        if isinstance(cause, BaseException) and not isinstance(
            cause, (TimeSlideFailure, PastValidatePrecheckFailure)
        ):
            inner = classify_error(cause)
            if inner.subindication is not SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE:
                return inner
        return PathOutcome(subindication=SubIndication.NO_POE, message=message, path=path)
    if isinstance(exc, PathBuildingError):
        return PathOutcome(subindication=SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                           message=message or "no chain to a trust anchor")
    if isinstance(exc, InvalidCertificateError):
        return PathOutcome(subindication=SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                           message=message, path=path)
    return PathOutcome(subindication=SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                       message=message, path=path)


def _lenient_usage(cert: x509.Certificate, role: str) -> PathOutcome | None:
    from ltv.validation._cert_extensions import lenient_usage_problem

    if role not in (CertRole.SIGNER, CertRole.TSA):
        return None
    problem = lenient_usage_problem(cert, signer=role == CertRole.SIGNER)
    if problem is None:
        return None
    return PathOutcome(subindication=SubIndication.CHAIN_CONSTRAINTS_FAILURE, message=problem)


def _library_failure(exc: BaseException) -> PathOutcome:
    """A plain error from inside pyhanko-certvalidator: INDETERMINATE, never a pass."""
    return PathOutcome(subindication=SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                       message=describe(exc))


_PRIORITY = {
    SubIndication.REVOKED_NO_POE: 0,
    SubIndication.REVOKED_CA_NO_POE: 1,
    SubIndication.OUT_OF_BOUNDS_NO_POE: 2,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE: 3,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE: 3,
    SubIndication.TRY_LATER: 4,
}


def _most_telling(outcomes: Sequence[PathOutcome]) -> PathOutcome:
    return min(outcomes, key=lambda o: _PRIORITY.get(o.subindication or
                                                     SubIndication.NO_POE, 9))


# ---------------------------------------------------------------------------------------------
# The checker


@dataclass(slots=True)
class _Pool:
    certs: list[asn1_x509.Certificate] = field(default_factory=list)
    crls: list[CRLContainer] = field(default_factory=list)
    ocsps: list[OCSPContainer] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _ParseCache:
    """Parsed objects shared across validations, keyed by their exact DER.

    asn1crypto objects cache their decoded parts (names prepared for comparison, extension
    values, ...) on first use; sharing them between documents that carry the same CA, TSA and
    responder certificates or the same OCSP responses and CRLs saves most of that work. The
    objects are immutable values: DER in, the same parse out, whoever asks.

    The DER comes from uploads, so the cache is an LRU bounded by ``limit`` entries and
    ``max_bytes``, each entry costed at 4 KiB + 24 times its DER (a parsed certificate holds
    about 25 times its DER); ``ltv serve`` sets the budget to ``--cache-size``
    (:meth:`set_budget`).
    """

    def __init__(self, limit: int = 4096, max_bytes: int = 64 << 20) -> None:
        self._items: ByteBudgetLru[tuple[str, bytes], object] = ByteBudgetLru(
            max_bytes=max_bytes, max_entries=limit)

    def set_budget(self, max_bytes: int) -> None:
        """Change the byte budget (process-wide; entries beyond it go at the next insert)."""
        self._items.max_bytes = max_bytes

    def get(self, kind: str, data: bytes, parse: Callable[[bytes], _V]) -> _V:
        key = (kind, data)
        found = self._items.get(key)
        if found is not None:
            return found  # type: ignore[return-value]
        value = parse(data)
        self._items.put(key, value, cost=4096 + 24 * len(data))
        return value

    def clear(self) -> None:
        self._items.clear()


PARSED = _ParseCache()


class _SharedName(asn1_x509.Name):  # type: ignore[misc]
    """The subject or issuer name of a certificate in :data:`PARSED`, whose ``hashable``
    (the RFC 5280 §7.1 comparison form pyhanko-certvalidator keys its registries, trust
    managers and issuer searches on, about 10 µs each time) is computed once.

    Only names of shared parsed certificates get this class (:func:`_share`, before the
    certificate is published in the cache), and those are never mutated; a copy of one (asn1crypto
    copies through ``_new_instance``) starts without the remembered value and computes its own.
    """

    @property
    def hashable(self) -> str:
        known: str | None = self.__dict__.get("_ltv_hashable")
        if known is None:
            known = str(self.chosen.hashable)
            self.__dict__["_ltv_hashable"] = known
        return known


def _share(cert: asn1_x509.Certificate, data: bytes | None = None) -> asn1_x509.Certificate:
    """Prepare a certificate for :data:`PARSED` (it is never mutated once there): its subject
    and issuer names remember their ``hashable``, the certificate its DER. Done now, while the
    certificate is still private to this thread (asn1crypto's lazy parsing is not
    thread-safe). A certificate whose names do not decode is left as it is: it fails where and
    as it failed before (asn1crypto leaves a part that failed to parse unparsed)."""
    try:
        raw = data if data is not None else bytes(cert.dump())
        tbs = cert["tbs_certificate"]
        names = [tbs["subject"], tbs["issuer"]]
        forms = [str(name.chosen.hashable) for name in names]
    except UNEXPECTED:
        return cert
    remember_der(cert, raw)
    for name, form in zip(names, forms, strict=True):
        if type(name) is asn1_x509.Name:
            name.__class__ = _SharedName
            name.__dict__["_ltv_hashable"] = form
    return cert


def _parse_cert(data: bytes) -> asn1_x509.Certificate:
    return _share(asn1_x509.Certificate.load(data), data)


def _load_asn1_cert(data: bytes) -> asn1_x509.Certificate:
    return PARSED.get("cert", data, _parse_cert)


def _load_crl(data: bytes) -> CRLContainer:
    def parse(raw: bytes) -> CRLContainer:
        parsed = asn1_crl.CertificateList.load(raw)
        _ = parsed["tbs_cert_list"]["issuer"].native
        return CRLContainer(parsed)

    return PARSED.get("crl", data, parse)


def _load_ocsp(data: bytes) -> tuple[tuple[OCSPContainer, ...], tuple[asn1_x509.Certificate, ...]]:
    def parse(raw: bytes) -> tuple[tuple[OCSPContainer, ...], tuple[asn1_x509.Certificate, ...]]:
        parsed = asn1_ocsp.OCSPResponse.load(raw)
        containers = tuple(OCSPContainer.load_multi(parsed))
        certs = tuple(_share(c) for c in parsed.basic_ocsp_response["certs"] or ())
        return containers, certs

    return PARSED.get("ocsp", data, parse)


def _pool(evidence: EvidenceSet, extra_certs: Iterable[x509.Certificate]) -> _Pool:
    pool = _Pool()
    seen: set[bytes] = set()
    for cert in (*evidence.certificates, *extra_certs):
        data = der(cert)
        if data not in seen:
            seen.add(data)
            pool.certs.append(_load_asn1_cert(data))
    for data in evidence.crls:
        try:
            pool.crls.append(_load_crl(data))
        except (ValueError, TypeError, KeyError) as exc:
            pool.problems.append(f"an embedded CRL is unreadable and was ignored: {exc}")
    for data in evidence.ocsp_responses:
        try:
            containers, certs = _load_ocsp(data)
            pool.ocsps.extend(containers)
            pool.certs.extend(certs)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            pool.problems.append(f"an embedded OCSP response is unreadable and was ignored: {exc}")
    return pool


#: The state of pyhanko-certvalidator 0.33's CertificateRegistry (SimpleCertificateStore):
#: anything else and registries are built afresh instead of copied.
_REGISTRY_FIELDS = frozenset({"fetcher", "certs", "_subject_map", "_key_identifier_map",
                              "_key_hash_map"})


#: Registries as ``register_multiple`` leaves them, per list of certificates (in order): the
#: documents of one signer carry the same certificates. Never used for look-ups, only copied.
#: A template keeps its parsed certificates alive (beyond :data:`PARSED`'s own budget when
#: that has let them go), so it is costed as PARSED costs them.
_TEMPLATES: ByteBudgetLru[bytes, CertificateRegistry] = ByteBudgetLru(
    max_bytes=16 << 20, max_entries=64)


def _registry_template(certs: Sequence[asn1_x509.Certificate]) -> CertificateRegistry:
    """A registry with ``certs`` registered in order, built once per list of DERs."""
    ders = [der_of(c) for c in certs]
    key = digest_of(ders)
    template = _TEMPLATES.get(key)
    if template is None:
        template = CertificateRegistry(cert_fetcher=None)
        template.register_multiple(certs)
        _TEMPLATES.put(key, template, cost=sum(4096 + 24 * len(d) for d in ders))
    return template


def _copy_registry(template: CertificateRegistry) -> CertificateRegistry | None:
    """A registry in the state ``template`` is in, sharing only the (never mutated) parsed
    certificates; None when the registry's fields are not the ones known here."""
    state = vars(template)
    if state.keys() != _REGISTRY_FIELDS or template.fetcher is not None:
        return None
    copy_ = CertificateRegistry(cert_fetcher=None)
    copy_.certs = dict(template.certs)
    for name in ("_subject_map", "_key_identifier_map", "_key_hash_map"):
        setattr(copy_, name, defaultdict(list, {k: list(v) for k, v in state[name].items()}))
    return copy_


class CertificateChecker:
    """Validates certificates over a fixed evidence set, trust anchors and policy, at ``at``."""

    def __init__(self, *, policy: ValidationPolicy, at: datetime, evidence: EvidenceSet,
                 extra_certificates: Iterable[x509.Certificate] = ()) -> None:
        self.policy = policy
        self.at = at
        self._pool = _pool(evidence, extra_certificates)
        self._algorithms = SunsetAlgorithmPolicy(policy)
        self._trust: TrustManager = SimpleTrustManager.build(
            trust_roots=[_asn1(c) for c in policy.trust_anchors]
        )
        self.spec = CertValidationPolicySpec(
            trust_manager=self._trust,
            revinfo_policy=CertRevTrustPolicy(
                revocation_checking_policy=REQUIRE_REVINFO,
                freshness=timedelta(0),
                freshness_req_type=FreshnessReqType.TIME_AFTER_SIGNATURE,
            ),
            time_tolerance=policy.clock_tolerance,
            algorithm_usage_policy=self._algorithms,
            signature_validator=_SIGNATURES,
        )
        # Past validation and its time-slide (§5.6.2.1-2) judge freshness at the control time:
        # information issued at t is usable up to t + revocation_freshness (§5.2.5.4 2).
        self.past_spec = CertValidationPolicySpec(
            trust_manager=self._trust,
            revinfo_policy=CertRevTrustPolicy(
                revocation_checking_policy=REQUIRE_REVINFO,
                freshness=policy.revocation_freshness,
                freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
            ),
            time_tolerance=policy.clock_tolerance,
            algorithm_usage_policy=self._algorithms,
            signature_validator=_SIGNATURES,
        )

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(self._pool.problems)

    @property
    def algorithms(self) -> SunsetAlgorithmPolicy:
        return self._algorithms

    def _handlers(self, poe: POEManager, extra: Sequence[x509.Certificate]
                  ) -> ValidationDataHandlers:
        """What ``bootstrap_validation_data_handlers(fetchers=None, ...)`` builds over the
        pool and ``extra``, with the registry copied from one built once per ``extra`` (each
        validation gets its own: path building and the contexts add to it)."""
        certs = [*self._pool.certs, *(_asn1(c) for c in extra)]
        registry = _copy_registry(_registry_template(certs))
        if registry is None:
            return bootstrap_validation_data_handlers(
                fetchers=None, crls=self._pool.crls, ocsps=self._pool.ocsps, certs=certs,
                poe_manager=poe,
            )
        revinfo = RevinfoManager(certificate_registry=registry, poe_manager=poe,
                                 crls=self._pool.crls, ocsps=self._pool.ocsps, fetchers=None)
        return ValidationDataHandlers(revinfo_manager=revinfo, poe_manager=poe,
                                      cert_registry=registry)

    def is_trust_anchor(self, cert: x509.Certificate) -> bool:
        data = der(cert)
        return any(der(a) == data for a in self.policy.trust_anchors)

    # -- §5.2.6 X.509 certificate validation at the validation time ------------------------

    async def validate_at(self, cert: x509.Certificate, *, usage_time: datetime,
                          ledger: PoeLedger, role: str,
                          extra_certificates: Sequence[x509.Certificate] = ()) -> PathOutcome:
        """XCV with RFC at ``self.at``; revocation must be fresh for a use at ``usage_time``."""
        try:
            constraint = self._usage_constraints(cert, role)
        except ValueError:  # extensions cryptography cannot parse strictly (issue #19)
            constraint = _lenient_usage(cert, role)
        if constraint is not None:
            return constraint
        handlers = self._handlers(ledger.manager(), extra_certificates)
        timing = ValidationTimingInfo(
            validation_time=self.at,
            best_signature_time=usage_time - self.policy.revocation_freshness,
            point_in_time_validation=True,
        )
        context = self.spec.build_validation_context(timing_info=timing, handlers=handlers)
        builder = PathBuilder(trust_manager=self._trust, registry=handlers.cert_registry)
        outcomes: list[PathOutcome] = []
        paths = builder.async_build_paths_lazy(_asn1(cert))
        try:
            async for candidate in paths:
                try:
                    await async_validate_path(context, candidate)
                except (ValidationError, PathError) as exc:
                    outcomes.append(classify_error(exc))
                    continue
                except UNEXPECTED as exc:  # a library failure on foreign material (#19)
                    outcomes.append(_library_failure(exc))
                    continue
                return PathOutcome(subindication=None, path=_path_certs(candidate))
        except PathBuildingError as exc:
            return classify_error(exc)
        except UNEXPECTED as exc:
            return _library_failure(exc)
        finally:
            await paths.cancel()  # type: ignore[no-untyped-call]
        if not outcomes:
            return PathOutcome(subindication=SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                               message="no chain to a trust anchor of the policy")
        return _most_telling(outcomes)

    def _usage_constraints(self, cert: x509.Certificate, role: str) -> PathOutcome | None:
        """Key usage of the signer and EKU of a TSA (pyHanko does not enforce them)."""
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if role == CertRole.SIGNER:
            if usage is not None and not (usage.digital_signature or usage.content_commitment):
                return PathOutcome(
                    subindication=SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                    message="the signer certificate's key usage allows neither "
                            "digitalSignature nor nonRepudiation",
                )
            if usage is not None and usage.key_cert_sign:
                return PathOutcome(
                    subindication=SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                    message="the signature was made with a CA key (keyCertSign)",
                )
        if role == CertRole.TSA:
            try:
                eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except x509.ExtensionNotFound:
                eku = None
            if eku is None or ExtendedKeyUsageOID.TIME_STAMPING not in eku:
                return PathOutcome(
                    subindication=SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                    message="the time-stamp's signer certificate lacks EKU timeStamping "
                            "(RFC 3161 §2.3)",
                )
        return None

    # -- §5.6.2.4 past signature validation ---------------------------------------------------

    async def past_signature_validation(
        self, cert: x509.Certificate, *, ledger: PoeLedger, signature_poe: datetime,
        current: SubIndication, role: str,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> PathOutcome:
        """Past signature validation (EN 319 102-1 §5.6.2.4) of a signature (or time-stamp)
        whose earliest POE is ``signature_poe`` and whose current-time result was ``current``.

        Runs past certificate validation (§5.6.2.1, certvalidator's ``past_validate`` with the
        time-slide of §5.6.2.2) over the POEs in ``ledger``, then applies the decision table
        of §5.6.2.4 step 4.
        """
        if current not in PAST_VALIDATION_CANDIDATES:
            return PathOutcome(subindication=current)
        handlers = self._handlers(ledger.manager(), extra_certificates)
        asn1_cert = _asn1(cert)
        rule = self.past_spec.revinfo_policy.revocation_checking_policy.ee_certificate_rule
        try:
            leaf_revinfo = await self._leaf_revinfo_in_past(asn1_cert, handlers, rule)
        except UNEXPECTED as exc:  # a library failure on foreign material (#19)
            return _library_failure(exc)
        builder = PathBuilder(trust_manager=self._trust, registry=handlers.cert_registry)
        outcomes: list[PathOutcome] = []
        found: tuple[ValidationPath, datetime] | None = None
        paths = builder.async_build_paths_lazy(asn1_cert)
        try:
            async for candidate in paths:
                try:
                    control = await self._past_certificate_validation(
                        candidate, handlers, signature_poe)
                except (ValidationError, PathError) as exc:
                    outcomes.append(classify_error(exc))
                    continue
                except UNEXPECTED as exc:  # a library failure on foreign material (#19)
                    outcomes.append(_library_failure(exc))
                    continue
                found = (candidate, control)
                break
        except PathBuildingError as exc:
            return classify_error(exc)
        except UNEXPECTED as exc:
            return _library_failure(exc)
        finally:
            await paths.cancel()  # type: ignore[no-untyped-call]
        if found is None:
            if not outcomes:
                return PathOutcome(subindication=SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                                   message="no chain to a trust anchor of the policy")
            best = _most_telling(outcomes)
            return PathOutcome(subindication=best.subindication, message=best.message,
                               path=best.path, revocation_time=best.revocation_time,
                               revocation_reason=best.revocation_reason,
                               revoked_is_ee=best.revoked_is_ee)
        path, control = found
        certs = _path_certs(path)
        no_revinfo_poe = PathOutcome(
            subindication=SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE, path=certs,
            control_time=control,
            message="POE for the signature exists, but none for the issuance of revocation "
                    "information about its certificate before the certificate expired",
        )
        if signature_poe <= control:
            if current in (SubIndication.REVOKED_NO_POE, SubIndication.TRY_LATER):
                if not leaf_revinfo:
                    return no_revinfo_poe
                return PathOutcome(subindication=None, path=certs, control_time=control)
            if current in (SubIndication.REVOKED_CA_NO_POE,
                           SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
                           SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE):
                return PathOutcome(subindication=None, path=certs, control_time=control)
            if current in (SubIndication.OUT_OF_BOUNDS_NO_POE,
                           SubIndication.OUT_OF_BOUNDS_NOT_REVOKED):
                if signature_poe < cert.not_valid_before_utc:
                    return PathOutcome(
                        subindication=SubIndication.NOT_YET_VALID, failed=True, path=certs,
                        message="the signature's POE predates the certificate's validity",
                    )
                if signature_poe <= cert.not_valid_after_utc:
                    if not leaf_revinfo:
                        return no_revinfo_poe
                    return PathOutcome(subindication=None, path=certs, control_time=control)
        return PathOutcome(
            subindication=current, path=certs, control_time=control,
            message=(f"the earliest proof of existence of the signature "
                     f"({signature_poe.isoformat()}) is not before the last time its "
                     f"certificate is known to be good ({control.isoformat()})"),
        )

    async def _past_certificate_validation(self, path: ValidationPath,
                                           handlers: ValidationDataHandlers,
                                           signature_poe: datetime) -> datetime:
        """EN 319 102-1 §5.6.2.1: pre-check, time-slide (§5.6.2.2), then X.509 validation at
        the resulting control time.

        As certvalidator's ``past_validate``, except that the control time is also capped by
        the validity of the path's certificates: revocation information issued after a
        certificate expired still counts in the time-slide (a late "revoked at R" moves the
        control time to R), but a responder's "good" after expiry proves nothing.
        """
        spec = self.past_spec
        certs = list(path.iter_certs(include_root=False))
        if certs:
            lower = max(c.not_valid_before for c in certs)
            upper = min(c.not_valid_after for c in certs)
            if lower >= upper:
                raise PastValidatePrecheckFailure(
                    "the validity periods of the certificates in the path do not overlap"
                )
        # Revocation information fetched "now" may carry a thisUpdate a moment after ``at``.
        control = await time_slide(
            path, init_control_time=self.at + self.policy.clock_tolerance,
            revinfo_manager=handlers.revinfo_manager,
            rev_trust_policy=spec.revinfo_policy, algo_usage_policy=spec.algorithm_usage_policy,
            time_tolerance=spec.time_tolerance,
        )
        control = min(control, self.at)
        if certs:
            control = min(control, min(c.not_valid_after for c in certs))
        timing = ValidationTimingInfo(
            validation_time=control,
            best_signature_time=signature_poe - self.policy.revocation_freshness,
            point_in_time_validation=True,
        )
        context = spec.build_validation_context(timing_info=timing, handlers=handlers)
        await async_validate_path(context, path, parameters=spec.pkix_validation_params)
        return control

    async def _leaf_revinfo_in_past(self, cert: asn1_x509.Certificate,
                                    handlers: ValidationDataHandlers,
                                    rule: RevocationCheckingRule) -> bool:
        """Whether revocation information about ``cert`` exists whose issuer certificate has
        POE before ``cert`` expired (§5.6.2.4 step 4, after pyHanko's reading of it)."""
        registry: CertificateRegistry = handlers.cert_registry
        poe = handlers.poe_manager
        cutoff = cert.not_valid_after
        for issuer in registry.find_potential_issuers(cert=cert, trust_manager=_NoTrust()):
            truncated = ValidationPath(trust_anchor=CertTrustAnchor(issuer), interm=[], leaf=cert)
            crls, ocsps = await ades_gather_prima_facie_revinfo(
                path=truncated, revinfo_manager=handlers.revinfo_manager,
                control_time=self.at, revocation_checking_rule=rule,
            )
            for crl in crls:
                if any(poe[p.path.leaf] <= cutoff for p in crl.prov_paths):
                    return True
            for resp in ocsps:
                if poe[resp.prov_path.leaf] <= cutoff:
                    return True
        return False

    # -- cryptographic constraints of the signature itself (SAV) ------------------------------

    def signature_algorithm_verdict(self, *, digest_algorithm: str | None,
                                    public_key: object, moment: datetime
                                    ) -> tuple[SubIndication | None, str | None]:
        """EN 319 102-1 §5.2.8: the signature's digest and key at its POE time ``moment``."""
        if digest_algorithm:
            verdict = self._algorithms._digest(digest_algorithm, moment)
            if not verdict:
                return _crypto_sub(verdict), verdict.failure_reason
        algorithm, bits = key_description(public_key)
        verdict = self._algorithms.key_allowed(algorithm, bits, moment)
        if not verdict:
            return _crypto_sub(verdict), verdict.failure_reason
        return None, None


def _crypto_sub(verdict: AlgorithmUsageConstraint) -> SubIndication:
    return (SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE if verdict.not_allowed_after
            else SubIndication.CRYPTO_CONSTRAINTS_FAILURE)


def _path_certs(path: ValidationPath) -> tuple[x509.Certificate, ...]:
    return tuple(_crypto(c) for c in path.iter_certs(include_root=True))


class _NoTrust(TrustManager):
    def find_potential_issuers(self, cert: asn1_x509.Certificate) -> Iterator[TrustAnchor]:
        return iter(())

    def as_trust_anchor(self, authority: object) -> None:
        return None


def poe_key_for_certificate(cert: x509.Certificate) -> bytes:
    return poe_digest(der(cert))
