"""A node's configuration, validated once at start."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from node.domain.regions import is_province

__all__ = [
    "NodeConfig",
    "ConfigError",
    "Role",
    "parse_address",
    "national_target",
    "ROUND_ROBIN",
    "VERSION",
]

VERSION = "0.1.0"


class ConfigError(ValueError):
    """A configuration a person must fix; the message says how."""


def parse_address(value: str, what: str = "address") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} {value!r} is not HOST:PORT (e.g. 127.0.0.1:50044)")
    return host.strip("[]"), int(port)


# The service config of a channel to a national cluster: calls spread over every
# replica listed (gRPC's round_robin), and a replica that dies, or answers NOT_SERVING
# on its health service (stopping, or its database gone), is left for the others: the
# channel watches each replica's health ("", the node as a whole).
ROUND_ROBIN = json.dumps(
    {"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}}
)


def national_target(value: str) -> tuple[str, list[tuple[str, str]]]:
    """A province's ``--national``: the gRPC target to dial and the channel options it
    needs. ``HOST:PORT`` (one national) is dialed as it is. A list ``H1:P1,H2:P2`` (the
    replicas of a national cluster on one database) is one target of IP addresses,
    ``ipv4:H1:P1,H2:P2`` (or ``ipv6:[..]:P,..``), with round_robin load balancing and
    health checking: each call goes to a live replica that has its database. A list
    takes IP addresses of one family only. A name whose DNS records are the replicas'
    addresses is given as gRPC's DNS target, ``dns:///NAME:PORT`` (the system's DNS
    servers) or ``dns://SERVER:PORT/NAME:PORT`` (a DNS server of its own), and is
    balanced the same way over every address it resolves to, resolved again as replicas
    come and go."""
    if value.startswith("dns:"):
        return _dns_target(value), [("grpc.service_config", ROUND_ROBIN)]
    parts = [p.strip() for p in value.split(",")]
    if len(parts) == 1:
        parse_address(value, "--national")
        return value, []
    families = set()
    for part in parts:
        host, _ = parse_address(part, "--national")
        try:
            families.add(ipaddress.ip_address(host).version)
        except ValueError:
            raise ConfigError(
                f"--national {value!r}: a list of national replicas takes IP addresses "
                f"({host!r} is not one), e.g. 10.0.0.1:50000,10.0.0.2:50000"
            ) from None
    if len(families) != 1:
        raise ConfigError(f"--national {value!r}: mixes IPv4 and IPv6 addresses")
    if families == {4}:
        target = "ipv4:" + ",".join(parts)
    else:
        target = "ipv6:" + ",".join(
            f"[{h}]:{p}" for h, p in (parse_address(x, "--national") for x in parts)
        )
    return target, [("grpc.service_config", ROUND_ROBIN)]


def _dns_target(value: str) -> str:
    """``dns:///NAME:PORT`` or ``dns://SERVER:PORT/NAME:PORT``, checked."""
    example = "e.g. dns:///national.example:50000 or dns://10.0.0.53:53/national.example:50000"
    authority, sep, endpoint = value.removeprefix("dns:").removeprefix("//").partition("/")
    if not value.startswith("dns://") or not sep or "," in value:
        raise ConfigError(f"--national {value!r} is not a DNS target ({example})")
    if authority:
        parse_address(authority, "--national's DNS server")
    parse_address(endpoint, "--national's name")
    return value


class Role(StrEnum):
    """What a node is: the one national node, or the node of one province."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"


def check_db_url(url: str) -> None:
    """A ``--db`` value: a PostgreSQL URL that libpq can parse (whether the server is
    there is found at start, when the node connects)."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"--db {url!r} is not a PostgreSQL URL: give postgresql://USER@HOST:PORT/DATABASE "
            "(without --db the node keeps its data in SQLite in its --data folder)"
        )
    import psycopg  # only for a node on PostgreSQL

    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        first = (str(exc).strip().splitlines() or ["unreadable"])[0]
        raise ConfigError(f"--db: not a valid PostgreSQL URL ({first})") from None


@dataclass
class NodeConfig:
    # A Role, or its value as a string (converted; an unknown one is a ConfigError).
    role: Role
    listen: str
    data_dir: Path
    province: str = ""
    national: str = ""
    heartbeat_interval: float = 2.0
    # A province is down once no heartbeat came for this many intervals.
    lease_intervals: float = 3.0
    grace: float = 5.0
    version: str = VERSION
    log_calls: bool = True
    extra: dict[str, str] = field(default_factory=dict)
    # National: seconds between scans of the outbox for due deliveries (a safety net
    # behind the immediate wake-ups; see federation.delivery).
    delivery_scan_interval: float = 1.0
    # Transport security (node.tls): the national CA's certificate, the node's own
    # certificate and key, and the CRL national follows (a province is handed national's).
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    crl: Path | None = None
    # Plaintext, callers' identities taken on their word: for development only.
    insecure: bool = False
    # The node's SM2 signing key file (node.wire.signing); None: <data_dir>/sign.key.
    sign_key: Path | None = None
    # The node's master key file (node.vault); None: <data_dir>/master.key, made at the
    # first start.
    master_key: Path | None = None
    # HOST:PORT of the node's HTTPS doors (node.doors); empty: none.
    https: str = ""
    # HOST:PORT at which other nodes dial this one, when not the one it listens on (a
    # province behind NAT, a load balancer or a relay registers this); empty: --listen's.
    advertise: str = ""
    # The node's database on a PostgreSQL server, ``postgresql://USER@HOST:PORT/DB``
    # (node.storage.postgres); empty: its SQLite file in data_dir (the default).
    db: str = ""

    def __post_init__(self) -> None:
        try:
            self.role = Role(self.role)
        except ValueError:
            raise ConfigError(
                f"unknown role {self.role!r}: use --role national or --role provincial"
            ) from None

    def validate(self) -> NodeConfig:
        parse_address(self.listen, "--listen")
        if self.db:
            check_db_url(self.db)
        if self.https:
            parse_address(self.https, "--https")
        if self.advertise:
            host, port = parse_address(self.advertise, "--advertise")
            if host in ("0.0.0.0", "::") or not port:
                raise ConfigError(
                    f"--advertise {self.advertise!r} must be an address others can dial: "
                    "a host and a port other than 0"
                )
        if self.role is Role.PROVINCIAL:
            if not self.province:
                raise ConfigError("a provincial node needs --province NN (e.g. --province 44)")
            if not is_province(self.province):
                raise ConfigError(
                    f"{self.province!r} is not a province code of GB/T 2260 "
                    "(11 Beijing ... 65 Xinjiang, 66 the Production and Construction Corps)"
                )
            if not self.national:
                raise ConfigError(
                    "a provincial node needs --national HOST:PORT of the national node"
                )
            national_target(self.national)
        elif self.province:
            raise ConfigError("--province is only for --role provincial")
        given = [f for f in ("ca", "cert", "key") if getattr(self, f) is not None]
        if self.insecure and (given or self.crl is not None):
            raise ConfigError("--insecure runs without TLS: give it without certificates")
        if not self.insecure and len(given) < 3:
            raise ConfigError(
                "a node serves over mutual TLS and needs its certificate: --pki DIR (the "
                "nation's pki folder, with ca.crt and nodes/<node>.crt and .key) or --ca, "
                "--cert and --key; --insecure serves plaintext (development only)"
            )
        return self

    @property
    def sign_key_path(self) -> Path:
        """Where the node's SM2 signing key is (made there at the first start)."""
        return self.sign_key if self.sign_key is not None else self.data_dir / "sign.key"

    @property
    def name(self) -> str:
        """The node's name as other nodes know it: ``national`` or ``pNN``."""
        return "national" if self.role is Role.NATIONAL else f"p{self.province}"
