"""One lock, used everywhere: the venv the suite runs in, and the image the Dockerfile builds, hold exactly uv.lock.

``scripts/dev test-latest`` and ``test-oldest`` run the suite on unlocked versions on purpose; they set
``JITBOT_UNLOCKED`` and the checks of the running venv step aside there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker

from tests.deploy.wiring import REPO, parse_dockerfile

UV = REPO / ".tools" / "bin" / "uv"
UNLOCKED = bool(os.environ.get("JITBOT_UNLOCKED"))


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked_versions() -> dict[str, str]:
    """Each locked package's version for this interpreter: where uv forked the resolution by Python version (a
    package whose newest release needs a newer Python), only the entry whose ``resolution-markers`` match."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    return {
        canonical(p["name"]): p["version"]
        for p in lock["package"]
        if "version" in p and markers_hold_here(p.get("resolution-markers", []))
    }


def markers_hold_here(markers: list[str]) -> bool:
    """True without markers, else when one of them holds here."""
    return not markers or any(Marker(marker).evaluate() for marker in markers)


def uv() -> str:
    if not UV.exists():
        pytest.fail("uv is missing from .tools/; `scripts/dev setup` installs the pinned version")
    return str(UV)


def run_uv(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([uv(), *args], cwd=REPO, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_lock_matches_pyproject() -> None:
    run_uv("lock", "--check", "--python", sys.executable)


def test_the_scanners_own_lock_matches_its_project_and_is_installed_exactly() -> None:
    """checkov is locked apart from uv.lock (tools/checkov) and installed from that lock into .tools/checkov."""
    run_uv("lock", "--check", "--project", "tools/checkov", "--python", sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env["UV_PROJECT_ENVIRONMENT"] = str(REPO / ".tools" / "checkov")
    args = ("sync", "--project", "tools/checkov", "--frozen", "--exact", "--dry-run", "--python", sys.executable)
    result = subprocess.run([uv(), *args], cwd=REPO, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "Would make no changes" in result.stderr + result.stdout, result.stderr


@pytest.mark.skipif(UNLOCKED, reason="this run installs the newest or oldest versions the ranges allow on purpose")
def test_the_suite_runs_on_exactly_the_locked_versions() -> None:
    locked = locked_versions()
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    assert installed, "no distributions found"
    differing = {
        name: (version, locked.get(name)) for name, version in installed.items() if locked.get(name) != version
    }
    assert not differing, f"installed (version, locked version) differ from uv.lock: {differing}"


def test_uv_itself_is_pinned_with_hashes() -> None:
    lines = (REPO / "scripts" / "uv-requirements.txt").read_text(encoding="utf-8")
    assert lines.startswith("uv==")
    assert lines.count("--hash=sha256:") >= 2
    pinned = lines.split()[0].removeprefix("uv==")
    required = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["uv"]["required-version"]
    assert required == f"=={pinned}", "pyproject's [tool.uv] required-version and scripts/uv-requirements.txt differ"


def runtime_set() -> dict[str, str]:
    """What uv.lock says the image holds: the project's dependencies, no group."""
    exported = run_uv("export", "--frozen", "--no-default-groups", "--no-hashes", "--no-emit-project", "--no-header")
    wanted: dict[str, str] = {}
    for line in exported.splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        pin, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, _, version = pin.strip().partition("==")
        wanted[canonical(name)] = version
    return wanted


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_dockerfile_builder_installs_exactly_the_runtime_part_of_the_lock(tmp_path: Path) -> None:
    """Run the builder stage's RUN lines (no Docker engine here) in a scratch copy, with this machine's Python."""
    builder = [i for i in parse_dockerfile((REPO / "Dockerfile").read_text(encoding="utf-8")) if i.stage == 0]
    context = tmp_path / "src"
    context.mkdir()
    image_venv = tmp_path / "opt" / "jitbot"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    for instruction in builder:
        if instruction.keyword == "ENV":
            for word in instruction.flags_and_rest()[1]:
                key, _, value = word.partition("=")
                env[key] = value
    env.pop("UV_NO_CACHE", None)
    env.pop("PIP_NO_CACHE_DIR", None)
    env["UV_PROJECT_ENVIRONMENT"] = str(image_venv)
    base_python = shutil.which("python3") or sys.executable
    system = tmp_path / "system-python"
    venv.create(system, with_pip=True)
    env["PATH"] = f"{system / 'bin'}{os.pathsep}{env['PATH']}"
    for instruction in builder:
        if instruction.keyword == "COPY":
            *sources, destination = instruction.flags_and_rest()[1]
            for source in sources:
                target = (
                    context / destination / Path(source).name if destination.endswith("/") else context / destination
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                if (REPO / source).is_dir():
                    shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(REPO / source, target)
        elif instruction.keyword == "RUN":
            command = instruction.args.replace("/usr/local/bin/python", base_python)
            result = subprocess.run(  # noqa: S602 - the Dockerfile's own shell command
                command, shell=True, cwd=context, env=env, capture_output=True, text=True, timeout=500, check=False
            )
            assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    listed = subprocess.run(
        [str(image_venv / "bin" / "python"), "-c", LIST_DISTRIBUTIONS], capture_output=True, text=True, check=True
    )
    installed = dict(line.split("==") for line in listed.stdout.split())
    installed.pop("jitbot")
    assert installed == runtime_set()
    assert "pytest" not in installed
    assert "mypy" not in installed
    help_text = subprocess.run(
        [str(image_venv / "bin" / "jitbot"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert help_text.returncode == 0, help_text.stderr
    assert "serve" in help_text.stdout


LIST_DISTRIBUTIONS = """
from importlib import metadata
for d in metadata.distributions():
    print(d.metadata["Name"].lower().replace("_", "-").replace(".", "-") + "==" + d.version)
"""
