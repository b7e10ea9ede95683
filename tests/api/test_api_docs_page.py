"""The offline Swagger UI at /api/docs: it shows our document and loads nothing from another host."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

CDN_HOSTS = ("unpkg", "jsdelivr", "cdnjs", "googleapis", "cloudflare")


class AssetLinks(HTMLParser):
    """Collects stylesheet and script URLs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")


def docs_assets(client: FlaskClient) -> tuple[str, list[str]]:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    parser = AssetLinks()
    parser.feed(html)
    return html, parser.urls


def test_docs_page_loads_no_cdn(client: FlaskClient) -> None:
    html, urls = docs_assets(client)
    assert not any(host in html.lower() for host in CDN_HOSTS), html
    assert not re.search(r"(src|href)=[\"'](https?:)?//", html), "an asset is loaded from another host"
    assert any(u.endswith(".css") for u in urls) and any(u.endswith(".js") for u in urls), urls


def test_docs_page_points_at_our_spec(client: FlaskClient) -> None:
    html, _ = docs_assets(client)
    assert "/api/openapi.json" in html


def test_every_docs_asset_is_served_locally(client: FlaskClient) -> None:
    _, urls = docs_assets(client)
    for url in urls:
        assert url.startswith("/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.data) > 1000, url
        expected = "text/css" if url.endswith(".css") else "javascript"
        assert expected in response.mimetype, (url, response.mimetype)


@pytest.mark.parametrize(
    "path",
    ["/api/docs/assets/nope.js", "/api/docs/assets/../../config.py", "/api/docs/assets/..%2f..%2fconfig.py"],
)
def test_docs_assets_outside_the_bundle_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"SECRET_KEY" not in response.data
