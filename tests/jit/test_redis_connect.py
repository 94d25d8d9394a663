"""REDIS_URL forms against real servers: TLS (rediss://) and Sentinel (redis+sentinel://)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio.connection
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from jit.redis_connect import SOCKET_TIMEOUT, RedisUrlError, connect_redis
from sandbox.arm_tls import write_self_signed
from sandbox.redis_server import RedisServer, free_port


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = write_self_signed(tmp_path, common_name="redis test")
    port = free_port()
    binary = shutil.which("redis-server")
    assert binary
    process = _start(
        [
            binary,
            "--port", "0",
            "--tls-port", str(port),
            "--tls-cert-file", str(cert),
            "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(cert),
            "--tls-auth-clients", "no",
            "--save", "",
            "--dir", str(tmp_path),
        ]
    )  # fmt: skip
    try:
        _wait_for_port(port)
        yield port, cert
    finally:
        process.terminate()
        process.wait(5)


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[int]:
    with RedisServer() as master:
        port = free_port()
        config = tmp_path / "sentinel.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\n"
            "sentinel down-after-milliseconds mymaster 1000\n"
        )
        binary = shutil.which("redis-server")
        assert binary
        process = _start([binary, str(config), "--sentinel"])
        try:
            _wait_for_port(port)
            yield port
        finally:
            process.terminate()
            process.wait(5)


async def test_rediss_url_speaks_tls(tls_redis: tuple[int, Path]) -> None:
    port, cert = tls_redis
    client = connect_redis(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}")
    assert await client.set("jitbot:tls", "yes")
    assert await client.get("jitbot:tls") == b"yes"
    await client.aclose()


async def test_plain_redis_url_cannot_talk_to_a_tls_port(tls_redis: tuple[int, Path]) -> None:
    port, _ = tls_redis
    client = connect_redis(f"redis://127.0.0.1:{port}/0")
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        await client.ping()
    await client.aclose()


async def test_sentinel_url_finds_the_master(sentinel: int) -> None:
    client = connect_redis(f"redis+sentinel://127.0.0.1:{sentinel}/mymaster/0")
    deadline = time.monotonic() + 10
    while True:
        try:
            assert await client.set("jitbot:sentinel", "yes")
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    assert await client.get("jitbot:sentinel") == b"yes"
    await client.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:6379",
        "redis+sentinel:///mymaster",
        "redis+sentinel://127.0.0.1:26379/",
        "redis+cluster:///",
        "redis+cluster://127.0.0.1:7000,/",
        "redis+cluster://127.0.0.1:7000/1",
        "rediss+cluster://127.0.0.1:port/",
    ],
)
def test_unusable_urls_are_explained(url: str) -> None:
    with pytest.raises(RedisUrlError):
        connect_redis(url)


async def test_cluster_url_seeds_every_node_with_tls_and_the_password() -> None:
    client = connect_redis("rediss+cluster://:s%2Fcret@127.0.0.1:7000,[::1]:7001,10.0.0.3/?ssl_ca_certs=/ca.pem")
    assert isinstance(client, RedisCluster)
    assert {node.name for node in client.startup_nodes} == {"127.0.0.1:7000", "::1:7001", "10.0.0.3:6379"}
    options = client.get_connection_kwargs()
    assert (options["password"], options["ssl_ca_certs"]) == ("s/cret", "/ca.pem")
    assert options["connection_class"] is redis.asyncio.connection.SSLConnection
    assert options["socket_timeout"] == SOCKET_TIMEOUT
    await client.aclose()


async def test_an_unreachable_cluster_is_a_connection_error_at_once() -> None:
    client = connect_redis(f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/")
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError):
        await client.ping()
    assert time.monotonic() - started < 3
    await client.aclose()
