"""The architecture's arrows (docs/architecture.md) hold, checked by import-linter with pyproject.toml's
contracts; and those contracts do catch a forbidden import and an import circle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_code_keeps_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _tree(root: Path, files: dict[str, str]) -> None:
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for package in ("jit", "jit/azure", "bot", "sandbox"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("", encoding="utf-8")
    every_module_a_contract_names = {
        "jit/azure/client.py": "import azure.core\n",
        "bot/slack.py": "import slack_bolt\nimport slack_sdk\n",
        "bot/runtime.py": "",
        "bot/cli.py": "",
    }
    for name, text in {**every_module_a_contract_names, **files}.items():
        (root / name).write_text(text, encoding="utf-8")


def test_a_domain_import_of_the_slack_face_breaks_a_contract(tmp_path: Path) -> None:
    _tree(tmp_path, {"bot/cards.py": "X = 1\n", "jit/use_case.py": "from bot.cards import X\n"})
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "jit.use_case -> bot.cards" in result.stdout


def test_the_face_reaching_the_azure_adapter_breaks_a_contract(tmp_path: Path) -> None:
    _tree(tmp_path, {"jit/azure/gateway.py": "X = 1\n", "bot/handler.py": "from jit.azure.gateway import X\n"})
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "bot.handler -> jit.azure.gateway" in result.stdout


def test_an_import_circle_between_siblings_breaks_a_contract(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "jit/service.py": "import jit.extensions\n",
            "jit/extensions.py": "import jit.lifecycle\n",
            "jit/lifecycle.py": "import jit.service\n",
        },
    )
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "No import circles between sibling modules BROKEN" in result.stdout
