"""Sample contracts (PDF, XML, text) for signing; regenerate with make_contracts."""
