"""A SoftHSM2 token in a directory of its own, for tests and the demo (never for production).

SoftHSM2 reads ``SOFTHSM2_CONF``; without it, it falls back to ``/etc/softhsm/softhsm2.conf``
and a root-owned token directory. :func:`init_token` writes DIR/softhsm2.conf (tokens in
DIR/tokens), initialises a token by label with ``softhsm2-util``, and writes the user PIN to
DIR/pin (mode 0600) for ``ltv serve --pin-file``. The caller exports ``SOFTHSM2_CONF`` before the
module is loaded (:attr:`SoftHsmToken.environment`).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ltv.errors import ConfigurationError

__all__ = ["ENV_CONF", "SoftHsmToken", "find_module", "init_token"]

ENV_CONF = "SOFTHSM2_CONF"
_MODULES = ("/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so")


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftHsmToken:
    """Where an initialised SoftHSM2 token lives and how to open it."""

    conf: Path
    module: Path
    label: str
    pin_file: Path

    @property
    def environment(self) -> dict[str, str]:
        return {ENV_CONF: str(self.conf)}


def find_module() -> Path:
    """The SoftHSM2 PKCS#11 module (Debian's ``softhsm2`` package)."""
    for candidate in _MODULES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise ConfigurationError("libsofthsm2.so not found: apt-get install softhsm2 (make setup)")


def init_token(directory: Path, *, label: str = "ltv-remote",
               pin: str | None = None) -> SoftHsmToken:
    """A fresh token ``label`` under ``directory`` (created), with a random PIN unless given."""
    directory = Path(directory).resolve()
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\nslots.mechanisms = ALL\n"
                    "library.reset_on_fork = false\n", encoding="utf-8")
    pin = pin or secrets.token_hex(8)
    so_pin = secrets.token_hex(8)
    env = {**os.environ, ENV_CONF: str(conf)}
    result = subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", so_pin,
         "--pin", pin], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigurationError(f"softhsm2-util --init-token failed: "
                                 f"{(result.stderr or result.stdout).strip()[:200]}")
    pin_file = directory / "pin"
    pin_file.write_text(pin + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    return SoftHsmToken(conf=conf, module=find_module(), label=label, pin_file=pin_file)
