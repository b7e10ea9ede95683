"""Operational safety in process: what a database error says. The rest runs against real servers in
tests/system/test_operational.py."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DBAPIError

from armada.extensions import db


def test_a_database_errors_text_leaves_out_the_statements_values(app: Flask) -> None:
    """What a failed statement says (logged, or in a 500's traceback) never carries its values: message texts,
    password hashes, session ids."""
    with app.app_context():
        with pytest.raises(DBAPIError) as failure:
            db.session.execute(sql_text("SELECT * FROM no_such_table WHERE x = :secret"), {"secret": "s3cret-value"})
        db.session.rollback()
    assert "no_such_table" in str(failure.value) and "s3cret-value" not in str(failure.value)
