"""Indications and sub-indications of EN 319 102-1 in plain words, English and Japanese.

Every text that shows a verdict (the text lines, the HTML and PDF reports, the web pages, the
API's problem details) says it twice: the standard token (``TOTAL-FAILED`` / ``REVOKED_NO_POE``)
for those who know the standard, and these words for those who do not::

    explain("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE", "ja")
    → "判定できません。署名者の証明書の有効期間外に署名された可能性があり、..."

Tokens may be given as the spec spells them (``TOTAL-PASSED``), as enum names
(``TOTAL_PASSED``) or as ETSI URNs. The Japanese uses the glossary's terms
(:mod:`ltv.i18n.terms`): 失効, 有効期限, 存在証明, 検証情報, 署名タイムスタンプ.
"""

from __future__ import annotations

from ltv.i18n import N_, translate

__all__ = ["explain", "indication_label", "main_text", "sub_text"]

_MAIN: dict[str, str] = {
    "TOTAL-PASSED": N_("The signature is valid."),
    "TOTAL-FAILED": N_("The signature is not valid."),
    "INDETERMINATE": N_("The signature could not be confirmed as valid or invalid."),
    "PASSED": N_("The check passed."),
    "FAILED": N_("The check failed."),
}

_LABEL: dict[str, str] = {
    "TOTAL-PASSED": N_("Valid"),
    "TOTAL-FAILED": N_("Not valid"),
    "INDETERMINATE": N_("Undetermined"),
    "PASSED": N_("Passed"),
    "FAILED": N_("Failed"),
}

_SUB: dict[str, str] = {
    "FORMAT_FAILURE": N_(
        "The signature is damaged or not in a format the standard allows."),
    "HASH_FAILURE": N_(
        "The signed document was changed after signing: its fingerprint (hash) no longer "
        "matches the one in the signature."),
    "SIG_CRYPTO_FAILURE": N_(
        "The signature value does not match the signer's public key: it was not made with "
        "the signer's key, or it was altered."),
    "REVOKED": N_(
        "The signer's certificate was revoked before the signature was made."),
    "EXPIRED": N_(
        "The signature was made after the signer's certificate expired."),
    "NOT_YET_VALID": N_(
        "The signature was made before the signer's certificate became valid."),
    "SIG_CONSTRAINTS_FAILURE": N_(
        "The signature does not meet the rules of the validation policy (for example a "
        "required attribute is missing or a kind of key is refused)."),
    "CHAIN_CONSTRAINTS_FAILURE": N_(
        "The certificate chain does not meet the rules of the validation policy."),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": N_(
        "The chain of certificates from the signer to a trusted root could not be checked."),
    "CRYPTO_CONSTRAINTS_FAILURE": N_(
        "An algorithm or key size used is no longer considered secure enough."),
    "POLICY_PROCESSING_ERROR": N_(
        "The signature policy named in the signature could not be processed."),
    "SIGNATURE_POLICY_NOT_AVAILABLE": N_(
        "The signature policy named in the signature is not available."),
    "TIMESTAMP_ORDER_FAILURE": N_(
        "The time-stamps are in an impossible order (a later one claims an earlier time)."),
    "NO_SIGNING_CERTIFICATE_FOUND": N_(
        "The signer's certificate could not be found."),
    "NO_CERTIFICATE_CHAIN_FOUND": N_(
        "No chain of certificates leads from the signer to a trusted root (trust anchor)."),
    "NO_CERTIFICATE_CHAIN_FOUND_NO_POE": N_(
        "No chain of certificates to a trusted root could be found for the time of signing, "
        "and there is no proof of existence from before that chain stopped being valid."),
    "REVOKED_NO_POE": N_(
        "The signer's certificate has been revoked, and there is no proof that the signature "
        "existed before the revocation (no time-stamp from before it)."),
    "REVOKED_CA_NO_POE": N_(
        "A CA certificate in the chain has been revoked, and there is no proof that the "
        "signature existed before the revocation."),
    "OUT_OF_BOUNDS_NOT_REVOKED": N_(
        "The signer's certificate has expired (it was not revoked), and there is no proof "
        "that the signature existed while it was valid."),
    "OUT_OF_BOUNDS_NO_POE": N_(
        "The signature may have been made outside the certificate's validity period, and "
        "there is no proof of existence from within it."),
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": N_(
        "The revocation information (CRL or OCSP) is outside its validity, and there is no "
        "proof of existence to rely on instead."),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": N_(
        "An algorithm used is no longer secure enough, and there is no proof that the "
        "signature existed while it still was (no archive time-stamp in time)."),
    "NO_POE": N_(
        "There is no proof that the signature existed at a time when it could still be "
        "trusted (a time-stamp is missing)."),
    "TRY_LATER": N_(
        "The revocation status is not yet known: validate again later, when fresh "
        "revocation information is published."),
    "SIGNED_DATA_NOT_FOUND": N_(
        "The signed document was not supplied, so the signature could not be checked "
        "against it (give the detached content)."),
}

_URN = "urn:etsi:019102:"


def _main_token(indication: str) -> str:
    token = indication.strip()
    if token.startswith(_URN):
        token = token.rsplit(":", 1)[1].upper()
    return token.replace("_", "-").upper()


def _sub_token(sub_indication: str) -> str:
    token = sub_indication.strip()
    if token.startswith(_URN):
        token = token.rsplit(":", 1)[1]
    return token.replace("-", "_").upper()


def indication_label(indication: str, lang: str) -> str:
    """One or two words: Valid / Not valid / Undetermined (有効 / 無効 / 判定不能)."""
    message = _LABEL.get(_main_token(indication))
    return translate(message, lang=lang, domain="common") if message else indication


def main_text(indication: str, lang: str) -> str:
    """The main indication as a sentence; an unknown token is returned as given."""
    message = _MAIN.get(_main_token(indication))
    return translate(message, lang=lang, domain="common") if message else indication


def sub_text(sub_indication: str, lang: str) -> str:
    """The sub-indication as a sentence; an unknown token is returned as given."""
    message = _SUB.get(_sub_token(sub_indication))
    return translate(message, lang=lang, domain="common") if message else sub_indication


def explain(indication: str, sub_indication: str | None, lang: str) -> str:
    """The indication (and sub-indication) in plain words in ``lang`` (``en`` / ``ja``).

    Unknown tokens come back as they were given, so nothing is hidden.
    """
    text = main_text(indication, lang)
    if sub_indication:
        separator = "" if lang == "ja" else " "
        text = f"{text}{separator}{sub_text(sub_indication, lang)}"
    return text
