"""Run a real `firebell serve` (or `firebell worker`) process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port free now and not handed out before in this test run. Two picks in
    a row can get the same port (the kernel reuses one just closed); a server given both
    (HTTP and syslog) then fails to bind the second, as CI once saw."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


class ServerProcess:
    """`python -m bot.cli serve` (or `worker`) with its own config file; `stop()`, `kill()`."""

    def __init__(
        self,
        workdir: Path,
        config_text: str,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        name: str = "server",
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(config_text)
        self.log_path = workdir / f"{name}.log"
        self.env = {**os.environ, **(env or {}), "FIREBELL_CONFIG": str(self.config_path)}
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, timeout: float = 30.0, *, args: Sequence[str] = ()) -> ServerProcess:
        """`firebell serve` plus `args` (e.g. --no-workers), ready once /healthz answers."""
        self._spawn(["serve", "--port", str(self.port), *args])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(self.base_url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not become healthy:\n{self.log()}")

    def start_worker(self, timeout: float = 30.0) -> ServerProcess:
        """`firebell worker` (no port): ready once it logs that its workers run."""
        self._spawn(["worker"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if "worker running" in self.log():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"worker did not start:\n{self.log()}")

    def _check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"process exited {self.proc.returncode}:\n{self.log()}")

    def _spawn(self, args: list[str]) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """kill -9: no shutdown code runs (crash simulation)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
