"""A node's data are its own: its folder mode 0700; its database, WAL and lock 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from ecnet.v1 import admin_service_pb2 as admin_pb


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_node_keeps_its_folder_and_files_private(cluster, tmp_path):
    folder = tmp_path / "national"
    folder.mkdir()
    folder.chmod(0o755)  # as an operator's mkdir with the usual umask makes it
    national = await cluster.start_national(data_dir=folder)
    info = await cluster.stubs(national).admin.GetNodeInfo(admin_pb.GetNodeInfoRequest())
    assert info.role  # the node answers, with its database open (WAL and -shm exist)
    assert mode(folder) == 0o700
    files = {p.name: mode(p) for p in folder.iterdir()}
    assert {"national.db", "national.db-wal", "node.lock"} <= set(files), files
    assert all(m == 0o600 for m in files.values()), files


async def test_a_database_left_readable_is_made_private_at_start(cluster, tmp_path):
    folder = tmp_path / "p44"
    national = await cluster.start_national()
    province = await cluster.start_province("44", data_dir=folder)
    await province.stop()
    db = folder / "provincial-44.db"
    db.chmod(0o644)
    await cluster.start(cluster.config("provincial", "44", data_dir=folder))
    assert mode(db) == 0o600
    assert national.address
