"""Production settings without `collectstatic`: the web process refuses to start, saying what to
run, instead of answering every page with a 500. (The drills start it after `bin/release`,
which collects them, and find the pages.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.reporting.conftest import settings_module_root


def _start_web_process(var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "a-production-like-key-for-this-test-only-" + "x" * 20,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "VAR_DIR": str(var_dir),
    }
    return subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        env=env,
        cwd=settings_module_root(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_web_process_refuses_to_start_until_the_static_files_are_collected(
    tmp_path: Path,
) -> None:
    started = _start_web_process(tmp_path)
    assert started.returncode != 0
    assert "ImproperlyConfigured: The static files have not been collected" in started.stderr
    assert "manage.py collectstatic --noinput" in started.stderr
