"""requirements.txt is what production installs: exactly what the runtime code needs, fully pinned; the test and
lint tools are in requirements-dev.txt, layered on top. Derived from the code's imports (ast), the Procfile's
commands and the installed packages' metadata, so that a new import or a new tool is checked without editing here."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# The code a production host runs: the package, its entry points and hooks, and the migrations.
TOP_LEVEL_MODULES = sorted(path.name for path in ROOT.glob("*.py"))  # wsgi.py, config.py, gunicorn.conf.py, ...
RUNTIME_CODE = ["armada", "migrations", *TOP_LEVEL_MODULES]
FIRST_PARTY = {"armada", "migrations", *(name.split(".")[0] for name in TOP_LEVEL_MODULES)}
# Needed at run time although no module of ours imports them (the libraries load them themselves).
USED_WITHOUT_IMPORT = {
    "psycopg": "DATABASE_URL=postgresql://...: SQLAlchemy's psycopg dialect imports it",
    "psycopg-binary": "psycopg's compiled implementation, which psycopg imports itself",
    "redis": "REDIS_URL: python-socketio's message queue and the limits storage import it when configured",
}


def pins(path: Path) -> dict[str, str]:
    """The `name==version` lines of a requirements file that apply to this Python (not the files it includes),
    by canonical name."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            [specifier] = requirement.specifier
            assert specifier.operator == "==", f"{path.name}: {line!r} is not pinned with =="
            if requirement.marker is None or requirement.marker.evaluate():
                found[canonicalize_name(requirement.name)] = specifier.version
    return found


def runtime_imports() -> dict[str, set[str]]:
    """Top-level third-party modules the runtime code imports, and which of its files import each."""
    files = [path for entry in RUNTIME_CODE for path in sorted((ROOT / entry).glob("**/*.py")) or [ROOT / entry]]
    imported: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    imported.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return imported


def procfile_distributions() -> set[str]:
    """The distributions whose commands the Procfile runs (gunicorn, flask)."""
    scripts = {ep.name: ep.dist for ep in metadata.entry_points(group="console_scripts") if ep.dist}
    words = re.findall(r"[\w.-]+", (ROOT / "Procfile").read_text())
    return {canonicalize_name(scripts[word].name) for word in words if word in scripts}


def closure(names: set[str]) -> dict[str, str]:
    """These distributions and everything they require, with the extras each is required with (httpx[http2]), by
    canonical name, each with what needs it."""
    needed_by = dict.fromkeys(names, "the runtime")
    extras: dict[str, set[str]] = {name: set() for name in names}
    queue = [(name, "") for name in names]
    while queue:
        name, extra = queue.pop()
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
                continue
            if not requirement.marker and extra:
                continue  # already followed for the distribution itself
            dependency = canonicalize_name(requirement.name)
            if dependency not in needed_by:
                needed_by[dependency] = name
                extras[dependency] = set()
                queue.append((dependency, ""))
            for wanted in requirement.extras - extras[dependency]:
                extras[dependency].add(wanted)
                queue.append((dependency, wanted))
    return needed_by


def test_the_runtime_code_imports_only_what_requirements_txt_installs() -> None:
    pinned = pins(ROOT / "requirements.txt")
    providers = metadata.packages_distributions()
    imports = runtime_imports()
    assert "flask" in imports and "sqlalchemy" in imports  # the scan sees the code
    for module, files in sorted(imports.items()):
        distributions = {canonicalize_name(name) for name in providers.get(module, [])}
        assert distributions, f"{module} (imported by {sorted(files)}) comes from no installed distribution"
        assert distributions & pinned.keys(), (
            f"{module} (imported by {sorted(files)}) comes from {sorted(distributions)}, not in requirements.txt"
        )


def test_requirements_txt_pins_exactly_what_the_runtime_needs_and_no_test_or_lint_tool() -> None:
    providers = metadata.packages_distributions()
    direct = {canonicalize_name(name) for module in runtime_imports() for name in providers.get(module, [])}
    direct |= procfile_distributions() | set(USED_WITHOUT_IMPORT)
    assert {"gunicorn", "flask"} <= direct  # the Procfile's commands were found
    needed = closure(direct)
    pinned = pins(ROOT / "requirements.txt")
    extra = sorted(pinned.keys() - needed.keys())
    assert not extra, f"requirements.txt pins {extra}, not needed at run time (requirements-dev.txt?)"
    missing = {name: needed[name] for name in needed.keys() - pinned.keys()}
    assert not missing, f"requirements.txt lacks these (each with what needs it): {missing}"
    for name, version in pinned.items():
        assert metadata.version(name) == version, f"{name} {metadata.version(name)} is installed, {version} pinned"


def test_requirements_dev_txt_adds_the_tools_on_top_fully_pinned() -> None:
    dev_file = ROOT / "requirements-dev.txt"
    includes = [line for line in dev_file.read_text().splitlines() if line.startswith("-")]
    assert includes == ["-r requirements.txt"]
    runtime, dev = pins(ROOT / "requirements.txt"), pins(dev_file)
    assert not runtime.keys() & dev.keys(), "pin each distribution in one file only"
    assert {"pytest", "ruff", "mypy", "playwright"} <= dev.keys()
    needed = closure(set(dev))
    missing = {name: needed[name] for name in needed.keys() - dev.keys() - runtime.keys()}
    assert not missing, f"requirements-dev.txt lacks these (each with what needs it): {missing}"
    for name, version in dev.items():
        assert metadata.version(name) == version, f"{name} {metadata.version(name)} is installed, {version} pinned"


def test_python_version_names_the_python_the_code_is_checked_against() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (ROOT / ".python-version").read_text().strip() == pyproject["tool"]["mypy"]["python_version"]
