"""Bugs the OpenAPI fuzzer (tests/fuzz/test_fuzz_openapi.py) found, pinned as plain API tests: values that
outgrow a column once normalized, and a direct upload's MIME type, which becomes a header."""

from __future__ import annotations

import pytest

from tests.helpers.media_support import SIGNED_URL
from tests.helpers.support import ApiClient, assert_error


def test_an_email_that_outgrows_254_characters_when_lowercased_is_refused(api: ApiClient) -> None:
    # 252 characters as sent, 492 as stored ("İ".lower() is "i" and a combining dot): PostgreSQL refused the
    # INSERT into users.email VARCHAR(254) with a 500.
    email = "İ" * 240 + "@example.com"
    response = api.client.post(
        "/api/auth/register", json={"email": email, "password": "long enough", "display_name": "I"}
    )
    assert "email" in assert_error(response, 422, "validation_failed")["details"]


def test_an_email_of_254_characters_once_lowercased_is_accepted(api: ApiClient) -> None:
    email = "İ" * 121 + "@example.com"  # 254 characters once lower-cased
    response = api.client.post(
        "/api/auth/register", json={"email": email, "password": "long enough", "display_name": "I"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user"]["email"] == email.lower()


@pytest.mark.parametrize(
    "mime_type",
    ["image/png\n", "image/" + "x" * 122, "изображение/png", "image/png\r\nX-Injected: 1"],
    ids=["final newline", "128 characters", "not ascii", "header injection"],
)
def test_a_direct_upload_mime_type_that_is_no_header_value_or_too_long_is_refused(
    api: ApiClient, mime_type: str
) -> None:
    # The mime type becomes the upload's Content-Type header and fills MediaUpload.mime_type VARCHAR(127).
    response = api.register().get(SIGNED_URL, query_string={"filename": "a.bin", "mime_type": mime_type, "size": 10})
    assert "mime_type" in assert_error(response, 422, "validation_failed")["details"]


def test_a_direct_upload_mime_type_of_127_characters_is_accepted(api: ApiClient) -> None:
    mime_type = "application/" + "x" * 115
    response = api.register().get(SIGNED_URL, query_string={"filename": "a.bin", "mime_type": mime_type, "size": 10})
    assert response.status_code == 200, response.get_json()
