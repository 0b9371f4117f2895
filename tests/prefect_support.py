"""A real Prefect server and its workers for the deployment tests (tests/test_deploy.py on SQLite, one worker;
tests/test_province.py on PostgreSQL, two workers): processes in their own process groups, output in files."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PREFECT = [sys.executable, "-m", "prefect"]
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
ROOT = Path(__file__).resolve().parent.parent
# Prefect 3.8.8's server schedules no deployment run with SQLAlchemy 2.1 (its scheduler's bulk insert of flow runs
# fails: "Can't evaluate bulk DML statement"); the README runs the server from its own environment with 2.0
SERVER_SQLALCHEMY = "2.0.58"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prefect_env(home: Path, api: str | None) -> dict[str, str]:
    """A plain Prefect environment: its own home, analytics off, the server's services on (as deployed)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_SERVER_SERVICES_", "PREFECT_API_URL", "PREFECT_HOME", "PYTHONPATH"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="INFO")
    if api:
        env["PREFECT_API_URL"] = api
    return env


class Group:
    """A subprocess in its own process group, output to a file; stopped with its children."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # children that outlived the leader
        except ProcessLookupError:
            pass
        self._out.close()


def server_sqlalchemy() -> Path:
    """A directory holding SQLAlchemy SERVER_SQLALCHEMY alone, to put first on the Prefect server's PYTHONPATH: the
    server's own environment of the README (its other packages are this one's, at the same pins). Installed
    once by pip from the configured index, kept under .campaignflow/ (ignored by git)."""
    target = ROOT / ".campaignflow" / "prefect-server" / f"sqlalchemy-{SERVER_SQLALCHEMY}"
    if not (target / "sqlalchemy").is_dir():
        staging = target.with_name(f"{target.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(staging),
                        f"sqlalchemy=={SERVER_SQLALCHEMY}"], check=True, capture_output=True, timeout=300)
        try:
            staging.rename(target)
        except OSError:  # another run installed it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return target


@contextlib.contextmanager
def prefect_server(env: dict[str, str], cwd: Path, log: Path, timeout: float = 120) -> Iterator[str]:
    """`prefect server start` on a free loopback port with `env` (its database among it); yields the API URL
    once /health answers, and stops the server's process group on leaving."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = Group([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, cwd, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.proc.poll() is None, server.text()
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the Prefect server did not answer in {timeout:.0f} s:\n{server.text()}"
            time.sleep(0.5)
        yield api
    finally:
        server.stop()


def start_worker(pool: str, api: str, home: Path, cwd: Path, log: Path, extra_env: dict[str, str] | None = None,
                 name: str | None = None, limit: int | None = None) -> Group:
    """`prefect worker start --pool POOL --type process` (polling every 2 s), without the project on its path."""
    env = {**prefect_env(home, api), "PREFECT_WORKER_QUERY_SECONDS": "2", **(extra_env or {})}
    args = [*PREFECT, "worker", "start", "--pool", pool, "--type", "process"]
    if name:
        args += ["--name", name]
    if limit:
        args += ["--limit", str(limit)]
    return Group(args, env, cwd, log)
