"""The web client ships the official socket.io-client unchanged, and loads nothing from outside Armada."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
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


def test_root_serves_the_client_with_a_strict_content_security_policy(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b'<script type="module" src="/static/app.js">' in response.data
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_static_assets_are_served_with_their_types(client: FlaskClient) -> None:
    # Browsers run ES modules served as either JavaScript type (which one depends on the Python version).
    scripts = {"text/javascript", "application/javascript"}
    for path, mimetypes in [
        ("/static/app.js", scripts),
        ("/static/vendor/socket.io.esm.min.js", scripts),
        ("/static/styles.css", {"text/css"}),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype in mimetypes, path
    assert client.get("/static/vendor/socket.io.esm.min.js").data == VENDORED.read_bytes()


def test_unknown_static_file_is_a_404_and_the_api_is_untouched(client: FlaskClient) -> None:
    assert client.get("/static/nope.js").status_code == 404
    assert client.get("/static/../__init__.py").status_code == 404
    health = client.get("/api/health")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
