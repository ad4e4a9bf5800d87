"""``ecnet-node``: run one node of the network.

    ecnet-node --role national --listen 127.0.0.1:50000 --data nation/national \\
               --pki nation/pki
    ecnet-node --role provincial --province 44 --listen 127.0.0.1:50044 \\
               --national 127.0.0.1:50000 --data nation/p44 --pki nation/pki

Every node serves over mutual TLS: ``--pki DIR`` finds the CA's certificate
(``DIR/ca.crt``), the node's own (``DIR/nodes/national.crt`` / ``p44.crt`` and ``.key``)
and national's CRL (``DIR/crl.pem``); ``--ca``, ``--cert``, ``--key``, ``--crl`` name
them one by one. ``--insecure`` serves plaintext (development only; loud in the log).

Exit codes: 0 after a graceful stop (SIGTERM / SIGINT), 2 for a configuration or
start-up problem (one line on stderr, never a traceback), 3 when national refuses the
registration (another live node serves the province).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from node.app import Node, NodeStartError, RegistrationRefused
from node.config import VERSION, ConfigError, NodeConfig
from node.logs import setup_logging
from node.tls import TlsFiles
from node.vault import MASTER_KEY_ENV

__all__ = ["main", "build_parser"]

EXIT_CONFIG = 2
EXIT_REFUSED = 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ecnet-node",
        description=(
            "One node of ecnet, the medical-insurance electronic voucher network (XJ-D01-2019)."
        ),
    )
    p.add_argument("--role", required=True, help="national | provincial")
    p.add_argument(
        "--province", default="", help="two-digit GB/T 2260 province code (provincial role)"
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:50000",
        help="HOST:PORT to serve gRPC on (port 0: any free port)",
    )
    p.add_argument(
        "--https",
        default="",
        help="HOST:PORT to serve the HTTPS doors on: terminals' POST /ec/v1/trans, channels' "
        "POST /ec/v1/channel/METHOD, /openapi.json and /docs (default: none)",
    )
    p.add_argument(
        "--advertise",
        default="",
        help="HOST:PORT at which other nodes reach this one, when not --listen's (behind NAT, "
        "a load balancer or a relay); a province registers it with national",
    )
    p.add_argument(
        "--national",
        default="",
        help="HOST:PORT of the national node (provincial role); a national cluster: "
        "H1:P1,H2:P2 or dns:///NAME:PORT (round_robin over its replicas)",
    )
    p.add_argument(
        "--data",
        required=True,
        type=Path,
        help="data folder holding this node's SQLite database (unless --db), keys and log",
    )
    p.add_argument(
        "--db",
        default=os.environ.get("ECNET_DB", ""),
        help="keep the node's data on PostgreSQL instead of SQLite: "
        "postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE, one database per node "
        "(default: $ECNET_DB, else SQLite in DATA)",
    )
    p.add_argument(
        "--sign-key",
        type=Path,
        default=Path(os.environ["ECNET_SIGN_KEY"]) if os.environ.get("ECNET_SIGN_KEY") else None,
        help="file of the node's SM2 key that signs the events it originates, made at the "
        "first start (default: $ECNET_SIGN_KEY, else DATA/sign.key)",
    )
    p.add_argument(
        "--master-key",
        type=Path,
        default=os.environ.get(MASTER_KEY_ENV) or None,
        help=(
            "file of the node's master key, which seals its secrets at rest (default "
            f"${MASTER_KEY_ENV}, else DATA/master.key, made at the first start, mode 0600)"
        ),
    )
    p.add_argument(
        "--heartbeat", type=float, default=2.0, help="seconds between heartbeats (default 2)"
    )
    p.add_argument(
        "--pki",
        type=Path,
        help="the nation's pki folder: ca.crt, nodes/<node>.crt and .key, crl.pem",
    )
    p.add_argument("--ca", type=Path, help="the national CA's certificate (PEM)")
    p.add_argument("--cert", type=Path, help="this node's certificate (PEM)")
    p.add_argument("--key", type=Path, help="this node's private key (PEM, mode 0600)")
    p.add_argument("--crl", type=Path, help="the CA's CRL to follow (national)")
    p.add_argument(
        "--insecure",
        action="store_true",
        help="serve plaintext and take callers' identities on their word (development only)",
    )
    p.add_argument("--quiet", action="store_true", help="no log line per call")
    p.add_argument(
        "--debug",
        action="store_true",
        help="log at debug too: heartbeats and health checks, one line each",
    )
    p.add_argument("--version", action="version", version=f"ecnet-node {VERSION}")
    return p


def _fail(message: str, code: int) -> int:
    print(f"ecnet-node: {message}", file=sys.stderr)
    return code


async def _serve(config: NodeConfig) -> int:
    node = Node(config)
    loop = asyncio.get_running_loop()
    start = asyncio.create_task(node.start())

    def on_signal() -> None:
        if not start.done():
            start.cancel()
        asyncio.ensure_future(node.stop())

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await start
    except NodeStartError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except RegistrationRefused as exc:
        await node.stop(grace=0)
        return _fail(f"national refused the registration: {exc}", EXIT_REFUSED)
    except asyncio.CancelledError:
        await node.stop(grace=0)
        return 0
    await node.wait_stopped()
    # stop() runs as its own task: let it finish draining before the loop closes.
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        if not task.done():
            await asyncio.wait([task], timeout=config.grace + 2)
    return 0


def _tls_files(args: argparse.Namespace) -> dict[str, Path | None]:
    """--ca, --cert, --key, --crl, each defaulting to its place under --pki."""
    files: dict[str, Path | None] = {"ca": args.ca, "cert": args.cert, "key": args.key}
    files["crl"] = args.crl
    if args.pki is not None:
        stem = "national" if args.role == "national" else f"p{args.province}"
        found = TlsFiles.in_pki(args.pki, stem)
        files = {
            "ca": args.ca or found.ca,
            "cert": args.cert or found.cert,
            "key": args.key or found.key,
            "crl": args.crl or found.crl,
        }
    return files


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    files = _tls_files(args)
    try:
        config = NodeConfig(
            role=args.role,
            listen=args.listen,
            https=args.https,
            advertise=args.advertise,
            data_dir=args.data,
            province=args.province,
            national=args.national,
            heartbeat_interval=args.heartbeat,
            log_calls=not args.quiet,
            master_key=args.master_key,
            insecure=args.insecure,
            ca=files["ca"],
            cert=files["cert"],
            key=files["key"],
            crl=files["crl"],
            sign_key=args.sign_key,
            db=args.db,
        ).validate()
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    setup_logging(config.name)
    if args.debug:  # ecnet's own debug lines only, not those of every library
        logging.getLogger("ecnet").setLevel(logging.DEBUG)
    logging.getLogger("grpc").setLevel(logging.WARNING)
    try:
        return asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
