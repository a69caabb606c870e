"""The layout `docs/architecture.md` describes is the code's: every path it names exists, every
subject of `workpackages/` has the same modules, and imports go the way it says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import LONGEST_FIRST, SHARED_SCOPES
from workpackages.apps import SUBJECTS

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "architecture.md"
APPS = ("consortium", "workpackages", "reporting")
# Which app may import which: `reporting → workpackages → consortium`, and nothing imports
# `reporting`.
ALLOWED = {
    "consortium": {"consortium"},
    "workpackages": {"consortium", "workpackages"},
    "reporting": {"consortium", "workpackages", "reporting"},
}


def _named_paths(document: Path = GUIDE) -> list[str]:
    """The paths between backquotes in a document that name a file or a folder of the project."""
    text = document.read_text()
    found = set()
    for quoted in re.findall(r"`([^`\s]+)`", text):
        if "<" in quoted or not re.match(
            r"^(consortium|workpackages|reporting|config|tests|docs)/", quoted
        ):
            continue
        found.add(quoted.rstrip("/"))
    return sorted(found)


@pytest.mark.parametrize("path", _named_paths())
def test_every_path_the_guide_names_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize("path", _named_paths(ROOT / "README.md"))
def test_every_path_the_readme_names_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"README.md names {path}, which does not exist"


@pytest.mark.parametrize("path", LONGEST_FIRST)
def test_every_file_the_suite_hands_out_first_exists(path: str) -> None:
    assert (ROOT / path).is_file() or (path in SHARED_SCOPES and (ROOT / path).is_dir()), (
        f"tests/conftest.py hands out {path} first; it does not exist"
    )


def test_the_guide_names_the_main_modules() -> None:
    named = set(_named_paths())
    assert {"consortium/querysets.py", "consortium/records.py", "config/api_router.py"} <= named


def test_every_subject_has_the_same_modules() -> None:
    files = {
        subject: sorted(path.name for path in (ROOT / "workpackages" / subject).glob("*.py"))
        for subject in SUBJECTS
    }
    expected = files[SUBJECTS[0]]
    assert {"models.py", "services.py", "selectors.py", "admin.py", "api.py"} <= set(expected)
    assert {"views.py", "forms.py", "serializers.py", "filtersets.py", "choices.py"} <= set(
        expected
    )
    for subject, names in files.items():
        assert names == expected, f"workpackages/{subject}/ differs from {SUBJECTS[0]}/"


def test_the_guide_lists_the_modules_every_subject_has() -> None:
    text = GUIDE.read_text()
    for path in (ROOT / "workpackages" / SUBJECTS[0]).glob("*.py"):
        if path.name != "__init__.py":
            assert f"| `{path.name}` |" in text, (
                f"docs/architecture.md does not say what {path.name} holds"
            )


def _imported_apps(path: Path) -> set[str]:
    """The apps a module imports, at any depth of the module (relative imports are its own)."""
    tree = ast.parse(path.read_text())
    apps = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            apps.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            apps.update(alias.name.split(".")[0] for alias in node.names)
    return apps & set(APPS)


@pytest.mark.parametrize("app", APPS)
def test_imports_go_one_way(app: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {sorted(_imported_apps(path) - ALLOWED[app])}"
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and _imported_apps(path) - ALLOWED[app]
    ]
    assert wrong == []


def test_no_app_registers_another_apps_admin() -> None:
    """Each app's admin registers its own models only (another subject's rows join a page
    through a hook such as `PARTNER_INLINES`), and none unregisters one of ours. Django's own user
    admin is the one replaced, by the people's admin of `consortium/admin.py`."""
    for app in APPS:
        for path in (ROOT / app).rglob("admin.py"):
            for replaced in re.findall(r"site\.unregister\((\w+)\)", path.read_text()):
                assert replaced == "User", f"{path.relative_to(ROOT)} unregisters {replaced}"
            assert "site.register(" not in path.read_text(), path
