"""The web client as the app serves it: the page with its strict Content-Security-Policy, and its static files.

What those files are (the vendored socket.io-client, no external URL) is checked in tests/unit/test_web_vendor.py.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.helpers.servers import ROOT

STATIC = ROOT / "armada" / "web" / "static"
VENDORED = STATIC / "vendor" / "socket.io.esm.min.js"
# Browsers run ES modules served as either JavaScript type (which one depends on the Python version).
SCRIPT_TYPES = {"text/javascript", "application/javascript"}
# The module paths of static imports: `import ... from './x.js'` (the client has no dynamic imports).
IMPORTED = re.compile(r"""^\s*import\b[^'"]*['"]([^'"]+)['"]""", re.MULTILINE)


def test_root_serves_the_client_with_a_strict_content_security_policy(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b'<script type="module" src="/static/app.js">' in response.data
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_static_assets_are_served_with_their_types(client: FlaskClient) -> None:
    for path, mimetypes in [
        ("/static/app.js", SCRIPT_TYPES),
        ("/static/vendor/socket.io.esm.min.js", SCRIPT_TYPES),
        ("/static/styles.css", {"text/css"}),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype in mimetypes, path
    assert client.get("/static/vendor/socket.io.esm.min.js").data == VENDORED.read_bytes()


def test_every_module_and_every_module_it_imports_is_served_as_javascript(client: FlaskClient) -> None:
    """A module the page loads (app.js, then what each imports) that is missing or mistyped stops the whole client."""
    modules = sorted(STATIC.glob("*.js"))
    assert len(modules) > 20
    imported = set()
    for module in modules:
        response = client.get(f"/static/{module.name}")
        assert response.status_code == 200, module.name
        assert response.mimetype in SCRIPT_TYPES, module.name
        imported |= {path.removeprefix("./") for path in IMPORTED.findall(response.get_data(as_text=True))}
    assert {"chat-view.js", "vendor/socket.io.esm.min.js"} <= imported  # the imports are read
    for path in sorted(imported):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path
        assert response.mimetype in SCRIPT_TYPES, path


def test_unknown_static_file_is_a_404_and_the_api_is_untouched(client: FlaskClient) -> None:
    assert client.get("/static/nope.js").status_code == 404
    assert client.get("/static/../__init__.py").status_code == 404
    health = client.get("/api/health")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
