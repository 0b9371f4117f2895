"""A real `campaign serve` for the browser tests: the command line in a subprocess, on a loopback port.

`cli(env, ...)` runs one `campaign` command and returns its output; `campaign_serve(env)` starts the server
with `--port 0`, reads the address it prints, waits until it answers and yields the address; afterwards
it is stopped with SIGTERM and must exit cleanly. Its log is drained all along, so a long log
never fills the pipe and stalls the server.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = [sys.executable, "-c", "from campaign_app.cli import main; main()"]


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """One `campaign` command; it must succeed."""
    done = subprocess.run([*CAMPAIGN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, f"campaign {' '.join(args)}: {done.stderr}"
    return done.stdout


def address_of(proc: subprocess.Popen[str], wait: float, said: list[str] | None = None) -> str:
    """The address a starting `campaign serve` prints; then its output is drained (into `said`, if given) on a
    thread, so a long log never fills the pipe and stalls the server."""
    assert proc.stdout is not None
    out = proc.stdout
    lines: list[str] = [] if said is None else said
    address = None
    deadline = time.monotonic() + wait
    while address is None and time.monotonic() < deadline:
        line = out.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if m := re.search(r"(http://127\.0\.0\.1:\d+)/", line):
            address = m.group(1)
    assert address, "campaign serve did not print its address:\n" + "".join(lines[-30:])
    threading.Thread(target=lambda: lines.extend(out), daemon=True).start()
    return address


@contextmanager
def campaign_serve(env: dict[str, str], *, ready: str = "/api/v1/health", wait: float = 180) -> Iterator[str]:
    """`campaign serve --port 0` with `env`; yields `http://127.0.0.1:PORT` once `ready` answers 200 (on a
    busy machine the first answer waits for the server's start-up work, so `wait` is generous: it is a
    wait for an event, not a sleep)."""
    proc = subprocess.Popen([*CAMPAIGN, "serve", "--port", "0"], env={"PYTHONPATH": str(ROOT), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        address = address_of(proc, wait)
        assert httpx.get(address + ready, timeout=wait).status_code == 200
        yield address
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            code = None
    assert code == 0, f"campaign serve did not stop cleanly on SIGTERM (exit {code})"
