"""What README.md says about running Armada agrees with the files that decide it (Procfile, the CLI), and it points
only at files the repository has. (tests/system/test_readme.py runs the README's API session itself.)"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from armada.cli import armada_cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PROCFILE_WEB = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))


def section(title: str) -> str:
    """The README section under a `## title` heading, up to the next `## ` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_the_quick_start_names_the_address_make_run_binds() -> None:
    bind = re.search(r"--bind\s+([^:\s]+):", PROCFILE_WEB)
    assert bind, PROCFILE_WEB
    assert f"`{bind.group(1)}`" in section("Quick start")


def test_every_environment_variable_of_the_web_line_is_named() -> None:
    names = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", PROCFILE_WEB))
    assert names
    assert {name for name in names if f"`{name}`" not in README} == set()


def test_web_concurrency_is_said_to_be_ignored_when_the_web_line_pins_the_workers() -> None:
    # gunicorn takes its worker count from WEB_CONCURRENCY unless given -w, which some hosts set for every app.
    if re.search(r"(-w|--workers)[ =]1\b", PROCFILE_WEB):
        sentence = next(s for s in re.split(r"(?<=[.;])\s", README) if "WEB_CONCURRENCY" in s)
        assert "ignored" in sentence, sentence


@pytest.mark.parametrize("command", ["create-user"])
def test_every_option_of_a_documented_command_is_documented(command: str) -> None:
    assert f"armada {command}" in README
    cmd = armada_cli.commands[command]
    options = [opt for param in cmd.params if isinstance(param, click.Option) for opt in param.opts]
    assert options
    assert [opt for opt in options if f"{opt} " not in README and f"{opt}`" not in README] == []


def test_the_reloader_is_promised_only_with_debug() -> None:
    # Flask's development server reloads on code changes only in debug mode (`flask run --debug`).
    sentences = [s for s in re.split(r"(?<=[.;])\s", README) if "reloader" in s and "no reloader" not in s]
    assert sentences
    assert [s for s in sentences if "--debug" not in s] == []


def test_every_local_link_and_image_exists() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)\)", README)
    local = [t for t in targets if not re.match(r"[a-z]+:|/", t)]
    assert local
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_no_text_points_at_a_file_outside_the_repository() -> None:
    outside = re.compile(r"CONTRACT\.md|shared folder|/work/shared", re.IGNORECASE)
    texts = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *ROOT.glob("docs/*"), *ROOT.glob("armada/**/*.py")]
    texts += [*ROOT.glob("armada/web/static/**/*.js"), *ROOT.glob("armada/web/static/**/*.html")]
    found = [str(path.relative_to(ROOT)) for path in texts if path.is_file() and path.suffix != ".png"]
    assert len(found) > 20
    assert [name for name in found if outside.search((ROOT / name).read_text())] == []
