"""``nation.json``: where a simulated nation's nodes live, so every command finds them.

``ecnet nation up`` writes it into the data folder; every other command reads it.
One entry per node: its role, province, address, data folder, log file and, while it
runs, its process id.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["NodeEntry", "NationFile", "PostgresEntry", "default_data_dir", "pid_alive"]

FILENAME = "nation.json"


def default_data_dir() -> Path:
    return Path(os.environ.get("ECNET_DATA") or "nation")


def pid_alive(pid: int | None) -> bool:
    """Is ``pid`` a running ecnet node (not a recycled pid of something else)?"""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"node" not in cmdline:
            return False
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class NodeEntry:
    name: str
    role: str
    province: str
    address: str
    data: str
    log: str
    pid: int | None = None
    # HOST:PORT of the node's HTTPS doors (ecnet-node --https); empty: none (a nation
    # file written before the doors).
    https: str = ""
    # The node's PostgreSQL URL (ecnet-node --db; nation up --db); empty: its SQLite
    # file in its data folder.
    db: str = ""

    @property
    def key_name(self) -> str:
        """Whose keys the node holds: ``national`` for every national replica (one
        national, one master key and signing key), else the node's name."""
        return "national" if self.role == "national" else self.name

    @property
    def sign_key(self) -> str:
        """The node's SM2 key that signs the events it originates, with the nation's
        other keys: ``DIR/pki/nodes/<node>.sign.key`` (made by the node at its first
        start, mode 0600; ``node.wire.signing``)."""
        return str(Path(self.data).parent / "pki" / "nodes" / f"{self.key_name}.sign.key")

    @property
    def master_key(self) -> Path:
        """The node's master key (``node.vault``): ``DIR/pki/nodes/<node>.master``, beside
        its certificate and not in its data folder, so that a copy of the data folder
        alone does not open its secrets."""
        return Path(self.data).parent / "pki" / "nodes" / f"{self.key_name}.master"

    def command(
        self, python: str, national: str, heartbeat: float = 2.0, pki: Path | None = None
    ) -> list[str]:
        """The node's command line: over mutual TLS with the certificates in ``pki``;
        plaintext (``--insecure``) without."""
        cmd = [
            python,
            "-m",
            "node",
            "--role",
            self.role,
            "--listen",
            self.address,
            "--data",
            self.data,
            "--heartbeat",
            str(heartbeat),
            "--sign-key",
            self.sign_key,
            "--master-key",
            str(self.master_key),
        ]
        if self.https:
            cmd += ["--https", self.https]
        if self.db:
            cmd += ["--db", self.db]
        if self.role == "provincial":
            cmd += ["--province", self.province, "--national", national]
        cmd += ["--pki", str(pki)] if pki is not None else ["--insecure"]
        return cmd


def _order(entry: NodeEntry) -> tuple[int, str]:
    return (entry.name != "national", entry.name)


@dataclass
class PostgresEntry:
    """The PostgreSQL server that holds the nation's databases (nation up --db)."""

    # postgresql://USER@HOST:PORT/: the server, each node's database in it
    server: str
    # The nation's own server's folder (--db postgres, DIR/postgres); empty: a server of
    # the user's own (--db postgresql://…), which nation down leaves running.
    folder: str = ""

    @property
    def embedded(self) -> bool:
        return bool(self.folder)


@dataclass
class NationFile:
    data_dir: Path
    base_port: int = 50000
    nodes: dict[str, NodeEntry] = field(default_factory=dict)
    # Plaintext nodes (nation up --insecure): development only.
    insecure: bool = False
    # The nodes' data on PostgreSQL (nation up --db); None: SQLite files.
    postgres: PostgresEntry | None = None

    @property
    def pki(self) -> Path:
        """The nation's certificates (node.pki's layout)."""
        return self.data_dir / "pki"

    @property
    def path(self) -> Path:
        return self.data_dir / FILENAME

    @property
    def national(self) -> NodeEntry:
        return self.nodes["national"]

    def nationals(self) -> list[NodeEntry]:
        """National and its other replicas (``nation up --national N``), national first."""
        return sorted((e for e in self.nodes.values() if e.role == "national"), key=_order)

    @property
    def national_target(self) -> str:
        """What the provinces are given as ``--national``: national's address, or the
        list of every replica's (a national cluster on one database)."""
        return ",".join(e.address for e in self.nationals())

    def provinces(self) -> list[str]:
        return sorted(e.province for e in self.nodes.values() if e.role == "provincial")

    @classmethod
    def load(cls, data_dir: Path) -> NationFile:
        path = data_dir / FILENAME
        if not path.exists():
            raise FileNotFoundError(
                f"no nation in {data_dir}: run `ecnet nation up --data {data_dir}` first "
                "(or point --data / $ECNET_DATA at the folder of a running nation)"
            )
        raw = json.loads(path.read_text())
        return cls(
            data_dir=data_dir,
            base_port=raw["base_port"],
            nodes={name: NodeEntry(**entry) for name, entry in raw["nodes"].items()},
            insecure=bool(raw.get("insecure", False)),
            postgres=PostgresEntry(**raw["postgres"]) if raw.get("postgres") else None,
        )

    def save(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "base_port": self.base_port,
                    "insecure": self.insecure,
                    "postgres": asdict(self.postgres) if self.postgres else None,
                    "nodes": {n: asdict(e) for n, e in self.nodes.items()},
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        tmp.replace(self.path)
