"""Signature formats behind one two-step surface (:mod:`ltv.signing`): cades, pades, xades."""
