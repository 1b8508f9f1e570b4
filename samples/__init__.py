"""samples: what a newcomer plays with — a JPKI-like sample PKI and its servers, a simulated
smartphone, and sample contracts. Built on :mod:`ltv` and :mod:`tsa`; never imported by them."""
