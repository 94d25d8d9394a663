"""The Dockerfile builds a slim, non-root image that runs `jitbot serve` on the port and routes the bot uses.

No Docker engine is available here, so the file is parsed and the parts that can run without one
(the HEALTHCHECK command, the build context) are exercised for real.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tomllib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from jit.settings import Settings
from tests.deploy.wiring import (
    APP_PORT,
    LIVENESS_PATH,
    REPO,
    Instruction,
    dockerignore_excludes,
    dockerignore_patterns,
    parse_dockerfile,
    unknown_env_names,
)

RUNTIME_BASE = "python:3.11-slim"


def instructions() -> list[Instruction]:
    return parse_dockerfile((REPO / "Dockerfile").read_text(encoding="utf-8"))


def final_stage() -> list[Instruction]:
    all_instructions = instructions()
    last = all_instructions[-1].stage
    return [i for i in all_instructions if i.stage == last]


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def healthcheck_command() -> list[str]:
    check = only(final_stage(), "HEALTHCHECK")
    options, _, command = check.args.partition(" CMD ")
    assert command, "HEALTHCHECK must use CMD exec form"
    assert "--interval=" in options
    assert "--timeout=" in options
    return Instruction("CMD", command.strip(), check.stage).exec_form()


def test_multi_stage_build_on_slim_python() -> None:
    froms = [i for i in instructions() if i.keyword == "FROM"]
    assert len(froms) >= 2
    assert froms[0].args.split() == [RUNTIME_BASE, "AS", "builder"]
    assert froms[-1].args.split()[0] == RUNTIME_BASE
    copies = [i.flags_and_rest() for i in final_stage() if i.keyword == "COPY"]
    assert copies
    assert all(flags.get("from") == "builder" for flags, _ in copies), "runtime copies only the built venv"


def test_runs_as_a_numeric_non_root_user_before_starting() -> None:
    stage = final_stage()
    user = only(stage, "USER")
    uid, _, gid = user.args.partition(":")
    assert uid.isdigit()
    assert int(uid) > 0
    assert gid == "" or int(gid) > 0
    assert stage.index(user) < stage.index(only(stage, "ENTRYPOINT"))


def test_entrypoint_is_the_console_script_serving() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    stage = final_stage()
    assert only(stage, "ENTRYPOINT").exec_form() == ["jitbot"]
    assert "jitbot" in scripts
    assert only(stage, "CMD").exec_form() == ["serve"]


def test_exposed_port_is_the_port_the_bot_listens_on_and_never_the_operations_port() -> None:
    stage = final_stage()
    assert only(stage, "EXPOSE").args == str(APP_PORT), "`docker run -P` must not publish OPS_PORT"
    env = dict(word.split("=", 1) for i in stage if i.keyword == "ENV" for word in i.flags_and_rest()[1])
    assert env["PORT"] == str(APP_PORT)
    assert (
        Settings.from_env(
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "AZURE_SUBSCRIPTION_IDS": "00000000-0000-0000-0000-000000000000",
                "JITBOT_APPROVAL_CHANNEL": "C1",
                "JITBOT_APPROVERS": "U1",
                "JITBOT_DEFAULT_SOURCE": "203.0.113.10/32",
                "PORT": env["PORT"],
            }
        ).port
        == APP_PORT
    )


def test_env_in_the_image_is_python_runtime_or_a_setting() -> None:
    names = {word.split("=", 1)[0] for i in instructions() if i.keyword == "ENV" for word in i.flags_and_rest()[1]}
    ours = {n for n in names if not n.startswith(("PYTHON", "PIP_", "UV_")) and n not in ("PATH", "MPLCONFIGDIR")}
    assert ours == {"PORT"}
    assert unknown_env_names(ours) == set()


def test_matplotlib_keeps_its_cache_where_the_deployments_mount_a_writable_tmp() -> None:
    """The runtime user has no home and Kubernetes runs the image read-only with an emptyDir on /tmp."""
    env = dict(word.split("=", 1) for i in final_stage() if i.keyword == "ENV" for word in i.flags_and_rest()[1])
    assert env["MPLCONFIGDIR"].startswith("/tmp/")


def test_build_context_has_what_copy_needs_and_no_secrets() -> None:
    patterns = dockerignore_patterns()
    copies = [
        i.flags_and_rest()[1] for i in instructions() if i.keyword == "COPY" and "from" not in i.flags_and_rest()[0]
    ]
    sources = [src for words in copies for src in words[:-1]]
    assert sources
    for words in copies:
        if len(words) == 2 and (REPO / words[0]).is_dir():
            assert words[1].removeprefix("./").rstrip("/") == words[0].rstrip("/"), "packages keep their names"
    for src in sources:
        assert (REPO / src).exists(), src
        assert not dockerignore_excludes(patterns, src.rstrip("/")), f"{src} is excluded by .dockerignore"
    packages = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    wanted = {p.rstrip("*") for p in packages["packages"]["find"]["include"]}
    assert wanted <= {s.rstrip("/") for s in sources}, "every packaged Python package must be copied"
    for secret_or_state in (".env", ".env.production", ".git/config", ".venv/bin/python", "tests/conftest.py"):
        assert dockerignore_excludes(patterns, secret_or_state), secret_or_state
    assert not dockerignore_excludes(patterns, "jit/settings.py")


def test_dockerignore_matcher_follows_last_match() -> None:
    assert dockerignore_excludes([".env*", "!.env.example"], ".env.local")
    assert not dockerignore_excludes([".env*", "!.env.example"], ".env.example")
    assert dockerignore_excludes(["**/__pycache__"], "jit/__pycache__/x.pyc")
    assert not dockerignore_excludes(["tests"], "jit/tests.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[int, dict[str, int]]]:
    """A loopback server answering /healthz with a status the test controls."""
    state = {"status": 200, "hits": 0}

    async def healthz(_: web.Request) -> web.Response:
        state["hits"] += 1
        return web.Response(status=state["status"], text="ok")

    app = web.Application()
    app.router.add_get(LIVENESS_PATH, healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port, state
    finally:
        await runner.cleanup()


async def run_healthcheck(port: int) -> int:
    """The image's HEALTHCHECK with OPS_PORT set to ``port``."""
    command = healthcheck_command()
    assert command[0] == "python", "the slim image has no curl; the check must use python"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={"OPS_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), timeout=20)


async def test_healthcheck_passes_when_healthz_answers_200(health_server: tuple[int, dict[str, int]]) -> None:
    port, state = health_server
    assert await run_healthcheck(port) == 0
    assert state["hits"] == 1


async def test_healthcheck_fails_when_healthz_is_unhealthy(health_server: tuple[int, dict[str, int]]) -> None:
    port, state = health_server
    state["status"] = 503
    assert await run_healthcheck(port) != 0
    assert state["hits"] == 1


async def test_healthcheck_fails_when_nothing_listens() -> None:
    assert await run_healthcheck(free_port()) != 0
