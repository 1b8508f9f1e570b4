"""Remote signing: keys in a PKCS#11 token, each signature authorised by the user's passkey.

For phones without a secure element (issue #18): the signing key lives with the service in an
HSM (:mod:`.pkcs11_keys`, the only module that imports ``pkcs11``), and every signature or batch
is authorised by a WebAuthn assertion whose challenge is derived from exactly the hashes to be
signed (:mod:`.binding`). The assertion is verified in software (:mod:`.passkeys`) and yields a
single-use, expiring Signature Activation Data record (:mod:`.sad`) kept in the object store.
The CSC API v2 over this lives in :mod:`ltv.server.routes_csc`.

This is SCAL2-*functional* (CEN EN 419 241-1 §5: two factors, SAD bound to signer, key and
DTBS/R), not SCAL2-*certified*: no Signature Activation Module inside the HSM checks the SAD.
"""
