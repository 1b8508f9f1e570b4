"""``python -m tsa``: run the time-stamp authority alone (same as ``ltv tsa serve``).

Options mirror ``ltv tsa serve``; each also reads its ``LTV_TSA_*`` environment variable, and the
key password comes only from ``LTV_TSA_KEY_PASSWORD``, or from the file named by
``LTV_TSA_KEY_PASSWORD_FILE`` (never from the command line).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ltv.clock import parse_time
from ltv.errors import LtvError
from tsa.authority import DEFAULT_POLICY_OID
from tsa.errors import TsaError
from tsa.server import DEFAULT_PORT, ServeSettings, run


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m tsa", description="Serve RFC 3161 time-stamps over HTTP on 127.0.0.1."
    )
    parser.add_argument("--key", type=Path, default=env("LTV_TSA_KEY"),
                        required=not env("LTV_TSA_KEY"), help="TSA private key (PEM)")
    parser.add_argument("--cert", type=Path, default=env("LTV_TSA_CERT"),
                        required=not env("LTV_TSA_CERT"), help="TSA certificate (PEM)")
    parser.add_argument("--chain", type=Path, default=env("LTV_TSA_CHAIN"),
                        help="issuer certificates to include with certReq (PEM bundle)")
    parser.add_argument("--host", default=env("LTV_TSA_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("LTV_TSA_PORT", DEFAULT_PORT)))
    parser.add_argument("--state-dir", type=Path, default=Path(env("LTV_TSA_STATE_DIR", "var/tsa")),
                        help="serial-number state, shared by every worker and restart")
    parser.add_argument("--policy", default=env("LTV_TSA_POLICY", DEFAULT_POLICY_OID))
    parser.add_argument("--workers", type=int, default=int(env("LTV_TSA_WORKERS", "1")))
    parser.add_argument("--at", type=parse_time, default=env("LTV_TSA_AT"),
                        help="run the clock from this ISO 8601 instant")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    password = os.environ.get("LTV_TSA_KEY_PASSWORD")
    password_file = os.environ.get("LTV_TSA_KEY_PASSWORD_FILE")
    try:
        at = parse_time(args.at) if isinstance(args.at, str) else args.at
        run(ServeSettings(
            key=args.key,
            cert=args.cert,
            chain=args.chain,
            host=args.host,
            port=args.port,
            state_dir=args.state_dir,
            policy=args.policy,
            workers=args.workers,
            at=at,
            key_password=password.encode() if password is not None else None,
            key_password_file=Path(password_file) if password_file else None,
        ))
    except (TsaError, LtvError) as exc:
        print(f"tsa: error: {exc}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
