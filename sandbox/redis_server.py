"""Start private ``redis-server`` child processes: for the test suite, the sandbox and the benchmarks.

``RedisServer`` is one server; ``RedisCluster`` is a real Redis Cluster of several of them, so the store's atomic
steps are proven where keys move between nodes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType


class RedisServerUnavailable(RuntimeError):
    """No ``redis-server`` binary on PATH."""


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, and that this process has not handed out before.

    The kernel may give the same ephemeral port to two binds in a row once the first socket is closed, so two
    calls made before either port is used (``PORT`` and ``OPS_PORT`` of one bot) could otherwise collide.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


class RedisServer:
    """A redis-server on loopback in its own temporary directory; ``appendonly`` turns AOF on.

    With AOF it persists the way every deployment of jitbot does (``appendfsync everysec``, no RDB schedule; see
    SECURITY.md), so the crash tests prove what production runs.

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
        extra_args: Sequence[str] = (),
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
        self.extra_args = list(extra_args)
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
            "everysec",
            "--protected-mode",
            "no",
            *self.extra_args,
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


CLUSTER_BUS_OFFSET = 10000


def free_cluster_port(taken: Sequence[int] = ()) -> int:
    """A free port whose cluster bus port (``port + 10000``) is free too, and not one of ``taken``."""
    while True:
        port = free_port()
        if port in taken or port + CLUSTER_BUS_OFFSET > 65535:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
        except OSError:
            continue
        return port


class RedisCluster:
    """A Redis Cluster of ``masters`` redis-servers on loopback, no replicas, the 16384 slots split between them.

    Built the way an operator builds one (``redis-cli --cluster create``), so tests see what production sees:
    MOVED redirects, per-node scripts and commands refused across slots.
    """

    def __init__(self, *, masters: int = 3, node_timeout_ms: int = 5000):
        if masters < 3:
            raise ValueError("redis-cli --cluster create needs at least three masters")
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RedisServerUnavailable("redis-cli is not installed: run `apt-get install redis-tools`")
        self.cli = cli
        ports: list[int] = []
        for _ in range(masters):
            ports.append(free_cluster_port(ports))
        node_args = ["--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms)]
        self.servers = [RedisServer(port=port, extra_args=node_args) for port in ports]

    @property
    def ports(self) -> list[int]:
        """Each node's client port."""
        return [server.port for server in self.servers]

    @property
    def url(self) -> str:
        """``redis+cluster://`` URL listing every node as a startup node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports) + "/"

    def start(self) -> RedisCluster:
        """Start the nodes, join them into one cluster and wait until every node reports it healthy."""
        try:
            for server in self.servers:
                server.start()
            nodes = [f"127.0.0.1:{port}" for port in self.ports]
            created = subprocess.run(  # noqa: S603
                [self.cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                timeout=60,
                check=False,
            )
            if created.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout.decode()[-500:]}")
            self._wait_until_ok()
        except BaseException:
            self.close()
            raise
        return self

    def cluster_info(self, port: int) -> dict[str, str]:
        """``CLUSTER INFO`` of one node as a dict."""
        out = subprocess.run(  # noqa: S603
            [self.cli, "-h", "127.0.0.1", "-p", str(port), "cluster", "info"],
            capture_output=True,
            timeout=5,
            check=False,
        ).stdout.decode()
        return dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)

    def _wait_until_ok(self) -> None:
        wanted = {"cluster_state": "ok", "cluster_slots_ok": "16384", "cluster_known_nodes": str(len(self.servers))}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            infos = [self.cluster_info(port) for port in self.ports]
            if all(all(info.get(k) == v for k, v in wanted.items()) for info in infos):
                return
            time.sleep(0.05)
        raise RuntimeError(f"Redis Cluster on ports {self.ports} did not reach cluster_state:ok")

    def close(self) -> None:
        """Stop every node and delete their directories."""
        for server in self.servers:
            server.close()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
