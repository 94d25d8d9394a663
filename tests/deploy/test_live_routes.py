"""Every probe and health check in the deployment files hits a route the real bot serves, and gets 200."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yaml

from sandbox.redis_server import RedisServer
from sandbox.stack import Stack, StackOptions
from tests.deploy.test_dockerfile import healthcheck_command
from tests.deploy.wiring import REPO


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The real bot over HTTP against the emulators, without the scheduler (only the routes matter here)."""
    async with Stack(StackOptions(redis_url=redis_server.url, start_scheduler=False)) as running:
        yield running


def probe_paths() -> dict[str, str]:
    """Where each deployment points its probes: Kubernetes (plain manifests = chart) and Container Apps."""
    deployment = yaml.safe_load((REPO / "deploy" / "k8s" / "deployment.yaml").read_text(encoding="utf-8"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    bicep = (REPO / "deploy" / "azure" / "main.bicep").read_text(encoding="utf-8")
    apps = dict(re.findall(r"type: '(\w+)'\s*\n\s*httpGet: \{\s*\n\s*path: '([^']+)'", bicep))
    assert set(apps) == {"Liveness", "Readiness"}
    return {
        "k8s readiness": container["readinessProbe"]["httpGet"]["path"],
        "k8s liveness": container["livenessProbe"]["httpGet"]["path"],
        "container apps readiness": apps["Readiness"],
        "container apps liveness": apps["Liveness"],
    }


async def test_every_probe_path_answers_200_on_the_running_bot(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        for source, path in probe_paths().items():
            async with session.get(f"http://127.0.0.1:{stack.bot_port}{path}") as response:
                assert response.status == 200, f"{source} probe {path} answered {response.status}"


async def test_image_health_check_passes_against_the_running_bot(stack: Stack) -> None:
    command = healthcheck_command()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={"PORT": str(stack.bot_port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(process.wait(), timeout=20) == 0


async def test_prometheus_scrape_target_serves_metrics(stack: Stack) -> None:
    deployment = yaml.safe_load((REPO / "deploy" / "k8s" / "deployment.yaml").read_text(encoding="utf-8"))
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{stack.bot_port}{annotations['prometheus.io/path']}") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "# TYPE" in await response.text()
