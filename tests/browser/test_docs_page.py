"""The offline Swagger UI at /api/docs renders in Chromium under its strict Content-Security-Policy.

Unlike the web client, this page is not held to axe-core's WCAG rules: Swagger UI's own markup fails them (its
method badges' colour contrast, its operation buttons' aria-labels that leave out their visible summary, and
flask-smorest's page template has no `lang`), none of which our configuration of it can change."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.helpers.servers import Server, serve_fresh


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The Procfile's web line with production defaults, which send the docs page's own policy."""
    with serve_fresh(tmp_path_factory.mktemp("docs_page"), prefix="armada_docs") as running:
        yield running


def test_the_docs_page_renders_under_its_policy_in_chromium(server: Server, browser: Browser) -> None:
    # The health operation's summary, as the document the page renders gives it.
    summary = requests.get(f"{server.url}/api/openapi.json", timeout=10).json()["paths"]["/api/health"]["get"][
        "summary"
    ]
    violations: list[str] = []
    page_errors: list[str] = []
    page = browser.new_page()
    try:
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.goto(f"{server.url}/api/docs")
        # The title and an operation's summary come from the OpenAPI document the page's script fetched.
        expect(page.get_by_role("heading", name=re.compile("Armada chat API"))).to_be_visible(timeout=10_000)
        expect(page.get_by_text(summary).first).to_be_visible()
    finally:
        page.close()
    assert not violations and not page_errors, (violations, page_errors)
