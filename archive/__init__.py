"""archive: evidence packages on object storage, RFC 4998 evidence records, renewal jobs."""
