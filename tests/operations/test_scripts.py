"""The scripts every process starts from (the Procfile, the image, the systemd units): production
settings unless told otherwise, and the commands the Procfile names exist."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _settings_module(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    answer = subprocess.run(
        ["bash", "-c", 'source bin/_env && printf %s "$DJANGO_SETTINGS_MODULE"'],  # noqa: S607
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout


def test_every_process_runs_on_the_production_settings_unless_told() -> None:
    assert _settings_module() == "config.settings.production"
    assert _settings_module(DJANGO_SETTINGS_MODULE="config.settings.local") == (
        "config.settings.local"
    )


@pytest.mark.parametrize("line", (ROOT / "Procfile").read_text().splitlines())
def test_the_procfile_starts_the_scripts_of_bin(line: str) -> None:
    name, command = line.split(": ", 1)
    script = ROOT / command.split()[0]
    assert script.parent.name == "bin" and os.access(script, os.X_OK), name
    assert 'source "$(dirname "$0")/_env"' in script.read_text()


def test_the_image_and_the_units_start_the_same_scripts() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["bin/web"]' in dockerfile
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in dockerfile
    units = ROOT / "deploy" / "systemd"
    for unit, script in [
        ("consortium-manager-web.service", "bin/web"),
        ("consortium-manager-worker@.service", "bin/worker"),
        ("consortium-manager-beat.service", "bin/beat"),
        ("consortium-manager-release.service", "bin/release"),
    ]:
        assert f"ExecStart=/srv/consortium-manager/{script}" in (units / unit).read_text()
