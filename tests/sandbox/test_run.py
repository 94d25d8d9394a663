"""``jitbot sandbox`` itself: which Redis it picks, that it cleans up after itself, and the real command."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from sandbox.redis_server import RedisServer, free_port
from sandbox.run import Sandbox, SandboxError, SandboxOptions, choose_redis
from sandbox.slack_workspace import ENGINEER


async def test_a_reachable_redis_url_is_used_as_is(redis_server: RedisServer) -> None:
    choice = await choose_redis({"REDIS_URL": redis_server.url})
    assert (choice.url, choice.server, choice.description) == (redis_server.url, None, "REDIS_URL")


async def test_an_unreachable_redis_url_falls_back_to_a_private_server() -> None:
    choice = await choose_redis({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    try:
        assert choice.server is not None and "did not answer" in choice.description
        client = aioredis.Redis.from_url(choice.url)
        assert await client.ping()
        await client.aclose()
    finally:
        if choice.server is not None:
            choice.server.close()


async def test_no_redis_anywhere_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="apt-get install redis-server"):
        await choose_redis({})


async def test_a_shared_redis_gets_its_sandbox_keys_removed(redis_server: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    await client.set("someone-else:key", "kept")
    sandbox = await Sandbox(SandboxOptions(port=0, environ={"REDIS_URL": redis_server.url})).start()
    try:
        assert sandbox.redis is not None and sandbox.redis.server is None
        stack = sandbox.stack
        assert stack is not None and stack.driver is not None
        await stack.driver.slash_command(ENGINEER, "ssh web-01 1h fixing deploy")
        await stack.slack.wait_until(lambda: stack.slack.messages_in("C0APPROVAL"))
        assert [k async for k in client.scan_iter(match="jitbot-sandbox-*")]
    finally:
        await sandbox.close()
    assert [k async for k in client.scan_iter(match="jitbot-sandbox-*")] == []
    assert await client.get("someone-else:key") == b"kept"
    await client.aclose()


def _children(parent: int, name: str) -> list[int]:
    """Pids of ``parent``'s child processes called ``name`` (from /proc; the sandbox runs on Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        if ppid == parent and comm == name:
            found.append(int(stat.parent.name))
    return found


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "JITBOT_", "AZURE_", "REDIS_"))}


async def _read_until(stream: asyncio.StreamReader, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    seen = ""
    async with asyncio.timeout(timeout):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"output ended before {pattern!r}; got {seen!r}")
            seen += line
            found = re.search(pattern, seen)
            if found:
                return found


async def test_the_command_serves_the_page_and_stops_in_order_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "sandbox",
        "--port",
        str(port),
        cwd=tmp_path,
        env=_clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        url = (await _read_until(process.stdout, r"running: (http://\S+)"))[1]
        redis_port = int((await _read_until(process.stdout, r"redis-server on port (\d+)"))[1])
        assert url == f"http://127.0.0.1:{port}/"
        [redis_child] = _children(process.pid, "redis-server")
        assert os.getsid(redis_child) != os.getsid(process.pid), "a Ctrl-C must not reach redis-server directly"
        async with aiohttp.ClientSession() as http, http.get(url) as page:
            assert page.status == 200 and "jitbot sandbox" in await page.text()
        os.killpg(process.pid, signal.SIGINT)
        async with asyncio.timeout(20):
            rest, errors = await process.communicate()
        assert process.returncode == 0
        assert "Stopping the sandbox" in rest.decode()
        assert errors.decode() == ""
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", redis_port), timeout=1):
            pass
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_busy_port_is_reported_with_a_way_out(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "sandbox",
            "--port",
            str(port),
            cwd=tmp_path,
            env=_clean_env(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, err = await process.communicate()
    assert process.returncode == 1
    assert f"--port {port + 1}" in err.decode()
