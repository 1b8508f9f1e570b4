"""Issue #12 (integration of retention, keys and audit): a tenant's prefix ``<name>/`` can
never be one of the store's own prefixes (``audit/``, ``tenants/``, ``_archive/``,
``_mutable/``), neither through ``ltv tenant add`` (the API's tenants) nor through
``ltv archive ... --tenant`` (the CLI's own archive tenants). Before, ``ltv archive put
--tenant audit`` wrote packages among the audit objects, and ``ltv audit ls`` then failed on
them.
"""

from __future__ import annotations

import pytest
from conftest import ltv_cli

from archive.audit import AuditEvent, Who, record
from archive.errors import ArchiveInputError
from archive.package import STORE_PREFIXES, register_tenant, tenant_prefix
from archive.store import open_store
from ltv.errors import InputError
from ltv.server.tenants import RESERVED_NAMES, add_tenant, check_tenant_name


def _top_level(store_url: str) -> set[str]:
    store = open_store(store_url)
    return {info.key.split("/", 1)[0] for info in store.list()}


def test_every_store_prefix_is_out_of_reach_of_tenant_names(tmp_path) -> None:
    url = (tmp_path / "store").as_uri()
    store = open_store(url)
    add_tenant(store, "acme")  # tenants/names, _mutable/tenants/keys, audit/
    register_tenant(store, "acme")  # _archive/tenants/
    record(store, AuditEvent.ARCHIVE_RENEW, who=Who.OPERATOR)
    own = _top_level(url)
    assert {"audit", "tenants", "_mutable", "_archive"} <= own
    for prefix in own:
        if prefix.startswith("_"):
            continue  # no tenant name starts with "_" (both rules)
        assert prefix in STORE_PREFIXES
        assert prefix in RESERVED_NAMES
        with pytest.raises(InputError, match="reserved"):
            check_tenant_name(prefix)
    for name in ("audit", "tenants", "Audit", "TENANTS"):
        with pytest.raises(ArchiveInputError, match="store's own prefix"):
            tenant_prefix(name)
    for name in ("_archive", "_mutable"):
        with pytest.raises(ArchiveInputError, match="bad tenant name"):
            tenant_prefix(name)
    assert tenant_prefix("acme") == "acme/"


@pytest.mark.parametrize("command", [("archive", "ls"), ("archive", "renew")])
def test_cli_refuses_a_store_prefix_as_tenant_in_one_line(tmp_path, command) -> None:
    url = (tmp_path / "store").as_uri()
    done = ltv_cli(*command, "--tenant", "audit", "--store", url)
    assert done.returncode == 4, done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("# ")]
    assert errors == ["ltv: error: tenant name 'audit' is the store's own prefix audit/ "
                      "(reserved: audit, tenants)"]
    assert "Traceback" not in done.stderr
    listed = ltv_cli("audit", "ls", "--store", url)
    assert listed.returncode == 0, listed.stderr
