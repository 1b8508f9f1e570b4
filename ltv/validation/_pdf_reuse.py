"""When the PAdES adapter may reuse what it has read of the current revision for a historical
one (issue #15): only when pyHanko, reading that revision, would read the same objects the
same way, so that the reuse changes no byte, no error and no logged line.

The POE index (:func:`ltv.validation.pades._poe_index`) reads the DSS of each document
time-stamp's revision through a ``HistoricalResolver``; the adapter has already read the DSS of
the current revision through the reader (:func:`ltv.validation.pades._dss`). For a document
time-stamp in the last revision (the usual B-LTA file), both reads give the same DSS when:

* the historical view's catalog is the reader's (same ``/Root`` reference);
* every object the DSS read resolves (catalog, ``/DSS``, its ``/Certs``, ``/OCSPs``, ``/CRLs``
  and ``/VRI`` and each entry of the three arrays) has a known history: the historical
  resolver then takes the reader's object (``get_last_change`` is at most the last revision)
  without logging; none is itself a reference to another object;
* every certificate, OCSP and CRL stream is stored without filters: decoding it is the
  identity, whatever the decoding limits and the decoding budget of either resolver.

Anything else (a DSS stream with a /Filter, an object of unknown history, a document
time-stamp before the last revision) is read again through the historical resolver, as pyHanko
reads it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["same_dss"]

_ARRAYS = ("/Certs", "/OCSPs", "/CRLs")


def same_dss(reader: Any, history: Any) -> bool:
    """Whether ``DocumentSecurityStore.read_dss(history)`` reads exactly what
    ``read_dss(reader)`` read (see the module); False when unsure."""
    from pyhanko.pdf_utils.generic import DictionaryObject, IndirectObject, StreamObject

    try:
        if history.revision != reader.xrefs.total_revisions - 1:
            return False
        root_ref = reader.root_ref
        if history.root_ref != root_ref:
            return False
        refs = [root_ref]

        def resolve(value: Any) -> Any:
            if isinstance(value, IndirectObject):
                refs.append(value.reference)
                value = reader.get_object(value.reference)
                if isinstance(value, IndirectObject):
                    raise _Unsure
            return value

        root = reader.get_object(root_ref)
        if not isinstance(root, DictionaryObject):
            return False
        if "/DSS" not in root:
            return _known(reader, refs)
        dss = resolve(root.raw_get("/DSS"))
        if not isinstance(dss, DictionaryObject):
            return False
        for key in _ARRAYS:
            if key not in dss:
                continue
            entries = resolve(dss.raw_get(key))
            if not isinstance(entries, list):
                return False
            for entry in entries:
                stream = resolve(entry)
                if not isinstance(stream, StreamObject) or "/Filter" in stream:
                    return False
        if "/VRI" in dss:
            resolve(dss.raw_get("/VRI"))
        return _known(reader, refs)
    except Exception:  # unsure: pyHanko reads it again
        return False


class _Unsure(Exception):
    pass


def _known(reader: Any, refs: list[Any]) -> bool:
    """Every reference has a known history (the historical resolver logs nothing for it)."""
    xrefs = reader.xrefs
    for ref in refs:
        xrefs.get_last_change(ref)  # KeyError: unsure
    return True
