"""Every probe and health check in the deployment files hits the port and route the real bot serves it on, and
gets 200: the operations port for probes and Prometheus, never the public one."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import yaml

from sandbox.redis_server import RedisServer
from sandbox.stack import Stack, StackOptions
from tests.deploy.test_dockerfile import healthcheck_command
from tests.deploy.wiring import OPS_PORT, REPO


@dataclass(frozen=True)
class Probe:
    """Where a deployment file points one probe: a route, on the public or the operations port."""

    path: str
    on_ops_port: bool


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The real bot over HTTP against the emulators, without the scheduler (only the routes matter here)."""
    async with Stack(StackOptions(redis_url=redis_server.url, start_scheduler=False)) as running:
        yield running


def kubernetes_container() -> dict[str, object]:
    deployment = yaml.safe_load((REPO / "deploy" / "k8s" / "deployment.yaml").read_text(encoding="utf-8"))
    container: dict[str, object] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def probes() -> dict[str, Probe]:
    """Each deployment's probes: Kubernetes (plain manifests = chart) and Container Apps."""
    container = kubernetes_container()
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}  # type: ignore[attr-defined]
    found: dict[str, Probe] = {}
    for kind in ("readiness", "liveness"):
        get = container[f"{kind}Probe"]["httpGet"]  # type: ignore[index]
        found[f"k8s {kind}"] = Probe(get["path"], ports[get["port"]] == OPS_PORT)
    bicep = (REPO / "deploy" / "azure" / "main.bicep").read_text(encoding="utf-8")
    apps = re.findall(r"type: '(\w+)'\s*\n\s*httpGet: \{\s*\n\s*path: '([^']+)'\s*\n\s*port: (\w+)", bicep)
    assert {kind for kind, _, _ in apps} == {"Liveness", "Readiness"}
    for kind, path, port in apps:
        found[f"container apps {kind.lower()}"] = Probe(path, port == "opsPort")
    return found


def test_every_probe_is_on_the_operations_port() -> None:
    assert all(probe.on_ops_port for probe in probes().values()), probes()


async def test_every_probe_path_answers_200_on_the_running_bot(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        for source, probe in probes().items():
            port = stack.ops_port if probe.on_ops_port else stack.bot_port
            async with session.get(f"http://127.0.0.1:{port}{probe.path}") as response:
                assert response.status == 200, f"{source} probe {probe.path} answered {response.status}"


async def test_image_health_check_passes_against_the_running_bot(stack: Stack) -> None:
    command = healthcheck_command()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={"OPS_PORT": str(stack.ops_port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(process.wait(), timeout=20) == 0


async def test_prometheus_scrapes_the_operations_port_and_the_public_port_has_no_metrics(stack: Stack) -> None:
    deployment = yaml.safe_load((REPO / "deploy" / "k8s" / "deployment.yaml").read_text(encoding="utf-8"))
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(OPS_PORT)
    path = annotations["prometheus.io/path"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{stack.ops_port}{path}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            assert "# TYPE" in await response.text()
        async with session.get(f"http://127.0.0.1:{stack.bot_port}{path}") as response:
            assert response.status == 404
