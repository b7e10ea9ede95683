"""The web client as the app serves it: the page with its strict Content-Security-Policy, and its static files.

What those files are (the vendored socket.io-client, no external URL) is checked in tests/unit/test_web_vendor.py.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.helpers.servers import ROOT

VENDORED = ROOT / "armada" / "web" / "static" / "vendor" / "socket.io.esm.min.js"


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
