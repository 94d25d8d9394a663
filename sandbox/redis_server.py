"""Start a private ``redis-server`` child process: for the test suite, the sandbox and the benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class RedisServerUnavailable(RuntimeError):
    """No ``redis-server`` binary on PATH."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server on loopback in its own temporary directory; ``appendonly`` turns AOF on.

    ``own_session`` starts it outside the caller's process group, so a Ctrl-C in the terminal reaches only the
    caller, which can then shut down in order and stop the server last.
    """

    def __init__(
        self,
        *,
        appendonly: bool = False,
        port: int | None = None,
        directory: Path | None = None,
        own_session: bool = False,
    ):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerUnavailable(
                "redis-server is not installed: run `apt-get install redis-server` (or set REDIS_URL)"
            )
        self.binary = binary
        self.appendonly = appendonly
        self.port = port or free_port()
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="jitbot-redis-")
        self.directory = directory or Path(self._tmp.name if self._tmp else ".")
        self.own_session = own_session
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://`` URL of this server, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and wait until it accepts connections."""
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always" if self.appendonly else "everysec",
            "--protected-mode",
            "no",
        ]
        self.process = subprocess.Popen(  # noqa: S603
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=self.own_session
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Stop the server (graceful, then forced)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
