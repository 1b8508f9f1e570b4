"""The field's terms, one translation each, shared by every text that names them.

README's glossary lists the same pairs (a test keeps them equal). Japanese follows the usage
of JIS X 5092/5093, the JPKI documents and Japanese e-document practice.
"""

from __future__ import annotations

from ltv.i18n import N_, translate

__all__ = ["GLOSSARY", "term"]

# English term -> note on where it is used; the Japanese lives in the catalogs.
GLOSSARY: dict[str, str] = {
    N_("long-term signature"): "AdES B-LTA / ES-A",
    N_("signature time-stamp"): "B-T, ES-T",
    N_("archive time-stamp"): "B-LTA, ES-A, RFC 4998",
    N_("document time-stamp"): "PAdES",
    N_("validation data"): "certificates, CRLs, OCSP responses",
    N_("revocation"): "CRL / OCSP status revoked",
    N_("expiry"): "certificate notAfter",
    N_("proof of existence"): "POE, EN 319 102-1",
    N_("evidence record"): "RFC 4998",
    N_("signer certificate"): "",
    N_("trust anchor"): "",
    N_("time-stamp authority"): "TSA, RFC 3161",
}


def term(english: str, lang: str | None = None) -> str:
    """The term in ``lang`` (default: the current language)."""
    return translate(english, lang=lang, domain="common")
