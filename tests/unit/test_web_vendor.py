"""The web client ships the official socket.io-client unchanged, and loads nothing from outside Armada.

How the app serves those files: tests/api/test_web_static.py.
"""

from __future__ import annotations

import json
import re

from tests.helpers.servers import ROOT

STATIC = ROOT / "armada" / "web" / "static"
NPM_CLIENT = ROOT / "tests" / "js" / "node_modules" / "socket.io-client"
VENDORED = STATIC / "vendor" / "socket.io.esm.min.js"

# Any absolute or protocol-relative URL in a src/href/action attribute, or in a CSS url(...) / @import.
EXTERNAL_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|action)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.IGNORECASE
)


def test_vendored_socketio_client_is_byte_identical_to_the_pinned_npm_package() -> None:
    assert VENDORED.read_bytes() == (NPM_CLIENT / "dist" / "socket.io.esm.min.js").read_bytes()


def test_the_pinned_npm_package_is_the_version_the_lock_file_names() -> None:
    installed = json.loads((NPM_CLIENT / "package.json").read_text())["version"]
    pinned = json.loads((ROOT / "tests" / "js" / "package.json").read_text())["dependencies"]["socket.io-client"]
    assert installed == pinned
    assert f"Socket.IO v{installed}" in VENDORED.read_text()[:200]


def test_index_html_references_no_external_url() -> None:
    html = (STATIC / "index.html").read_text()
    assert not EXTERNAL_REFERENCE.search(html), EXTERNAL_REFERENCE.search(html)
    assert 'src="/static/app.js"' in html
    assert 'href="/static/styles.css"' in html


def test_stylesheet_and_modules_import_nothing_from_outside() -> None:
    assert not EXTERNAL_REFERENCE.search((STATIC / "styles.css").read_text())
    imports = {
        module.name: re.findall(r"""^\s*import\b[^'"]*['"]([^'"]+)['"]""", module.read_text(), re.MULTILINE)
        for module in STATIC.glob("*.js")
    }
    assert "./vendor/socket.io.esm.min.js" in imports["socket.js"]
    assert "./api.js" in imports["app.js"]
    for name, paths in imports.items():
        assert all(path.startswith("./") for path in paths), (name, paths)


def test_no_module_ever_parses_html() -> None:
    forbidden = re.compile(
        r"\b(?:innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment)\b"
        r"|\beval\(|new Function\("
    )
    for module in STATIC.glob("*.js"):
        assert not forbidden.search(module.read_text()), module.name


def test_external_reference_pattern_catches_what_it_must() -> None:
    for bad in ['<script src="https://cdn.example/x.js">', "<link href='//cdn.example/x.css'>", "url(http://x/y.png)"]:
        assert EXTERNAL_REFERENCE.search(bad), bad
    for fine in ['<script src="/static/app.js">', '<link href="/static/styles.css">', "url(/static/a.png)"]:
        assert not EXTERNAL_REFERENCE.search(fine), fine
