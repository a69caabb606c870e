"""docs/deploy.md is true: every environment variable the settings, gunicorn's configuration,
the scripts and Docker Compose read is in its table, and every file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text()
READERS = {
    "config/settings/*.py": r'env\.\w+\(\s*"([A-Z_]+)"',
    "deploy/gunicorn.conf.py": r'os\.environ\.get\(\s*"([A-Z_]+)"',
    "bin/*": r"\$\{([A-Z_]+):-",
    "compose.yaml": r"\$\{([A-Z_]+):\?",
}


def _variables() -> list[str]:
    found = set()
    for pattern, reader in READERS.items():
        for path in ROOT.glob(pattern):
            found |= set(re.findall(reader, path.read_text()))
    return sorted(found)


def _documented() -> set[str]:
    rows = [line for line in GUIDE.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z_]+)`", row.split(" | ")[0])}


def test_the_guide_finds_the_variables() -> None:
    assert {"SECRET_KEY", "WEB_WORKERS", "WORKER_CONCURRENCY", "POSTGRES_PASSWORD"} <= set(
        _variables()
    )


@pytest.mark.parametrize("variable", _variables())
def test_every_variable_read_is_in_the_guide_s_table(variable: str) -> None:
    assert variable in _documented(), f"docs/deploy.md's table lacks {variable}"


@pytest.mark.parametrize(
    "path",
    sorted(
        {
            quoted.rstrip("/")
            for quoted in re.findall(r"`([^`\s]+)`", GUIDE)
            if re.match(
                r"^(bin|deploy|config|tests|docs)/|^(Dockerfile|compose\.yaml|Procfile)$", quoted
            )
        }
    ),
)
def test_every_file_the_guide_names_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"docs/deploy.md names {path}, which does not exist"
