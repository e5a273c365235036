"""Every secret setting has a sentinel in tests/helpers/sentinels.py, so the secrets test covers it."""

from __future__ import annotations

from statuspage.config import SETTINGS

from ..helpers.sentinels import secret_environment


def test_every_secret_setting_has_a_sentinel_here() -> None:
    """A new secret setting must be added to secret_environment, or tests/integration/test_secrets.py
    would silently not cover it."""
    assert set(secret_environment(5432)) == {s.env for s in SETTINGS if s.secret}
