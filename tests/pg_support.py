"""A throwaway PostgreSQL cluster on loopback, run as the `postgres` user from Debian's binaries: the tests'
session server (tests/conftest.py, fsync off) and the benchmarks' (bench/bench_pg.py, default durability)."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
from pathlib import Path


class PostgresCluster:
    """initdb into `root`/pgdata on a free port; `options` are the server's extra `-c name=value` settings."""

    def __init__(self, root: Path, options: str = "", stop_mode: str = "fast"):
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
        self.dir = root / "pgdata"
        self.options, self.stop_mode = options, stop_mode
        root.mkdir(parents=True, exist_ok=True)
        shutil.chown(root, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-w", "-l", str(self.dir / "log"), "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {self.options}".rstrip(),
                          "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", self.stop_mode, "stop")

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
