"""JPKI facts the core needs: certificate policy OIDs and the holder-data otherName OIDs.

Sources: ../shared/STANDARDS.md §3.2 (J-LIS profile as summarised by jsrsasign-oid-jpki and card
reads). The smartphone policy of the real JPKI is not public; ours lives under the UUID arc
2.25 (ITU-T X.667: usable without registration), so it can never collide with a real one.
"""

from __future__ import annotations

import enum

__all__ = [
    "CARD_SIGN_POLICY_OIDS",
    "HOLDER_OIDS",
    "JPKI_SIGN_POLICY_PROD",
    "JPKI_SIGN_POLICY_TEST",
    "REMOTE_SIGN_POLICY_OIDS",
    "SAMPLE_REMOTE_POLICY",
    "SAMPLE_SMARTPHONE_POLICY",
    "SMARTPHONE_SIGN_POLICY_OIDS",
    "KeyKind",
    "key_kind_for_policies",
]

#: JPKI card signing certificate policy (jpki-cp-sign-class20), production and test environment.
JPKI_SIGN_POLICY_PROD = "1.2.392.200149.8.5.1.1.20"
JPKI_SIGN_POLICY_TEST = "1.2.392.200149.8.5.1.0.20"

#: The sample PKI's smartphone signing policy: 2.25.<UUID d2134c21-e05f-431e-bbfc-db1c40fa1fc7>.
SAMPLE_SMARTPHONE_POLICY = "2.25.279238076902243542650764225004258860999.1"

#: The sample PKI's remote signing policy (key in the service's HSM, each signature authorised by
#: the holder's FIDO2 passkey): same UUID arc, ``.2``.
SAMPLE_REMOTE_POLICY = "2.25.279238076902243542650764225004258860999.2"

CARD_SIGN_POLICY_OIDS = frozenset({JPKI_SIGN_POLICY_PROD, JPKI_SIGN_POLICY_TEST})
SMARTPHONE_SIGN_POLICY_OIDS = frozenset({SAMPLE_SMARTPHONE_POLICY})
REMOTE_SIGN_POLICY_OIDS = frozenset({SAMPLE_REMOTE_POLICY})

#: SAN otherName type-ids for holder data (UTF8String values), as JPKI signing certificates use.
HOLDER_OIDS = {
    "name": "1.2.392.200149.8.5.5.1",
    "name_substitute_positions": "1.2.392.200149.8.5.5.2",
    "gender": "1.2.392.200149.8.5.5.3",
    "date_of_birth": "1.2.392.200149.8.5.5.4",
    "address": "1.2.392.200149.8.5.5.5",
    "address_substitute_positions": "1.2.392.200149.8.5.5.6",
}


class KeyKind(enum.Enum):
    """Which kind of key made a signature, told by the certificate policy."""

    SMARTPHONE = "smartphone"
    CARD = "card"
    REMOTE = "remote"  # server-held key (HSM), FIDO-authorised
    OTHER = "other"

    @property
    def label(self) -> str:
        """How reports name the kind (remote keys say who holds them)."""
        if self is KeyKind.REMOTE:
            return "remote (server-held key, FIDO-authorised)"
        return str(self.value)


def key_kind_for_policies(policy_oids: frozenset[str] | set[str]) -> KeyKind:
    """Smartphone, card or remote (HSM) key, from the end-entity certificate's policy OIDs."""
    if policy_oids & REMOTE_SIGN_POLICY_OIDS:
        return KeyKind.REMOTE
    if policy_oids & SMARTPHONE_SIGN_POLICY_OIDS:
        return KeyKind.SMARTPHONE
    if policy_oids & CARD_SIGN_POLICY_OIDS:
        return KeyKind.CARD
    return KeyKind.OTHER
