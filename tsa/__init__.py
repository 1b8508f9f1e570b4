"""tsa: the authority side of RFC 3161 (with RFC 5816 ESSCertIDv2). The client is ltv.timestamps."""
