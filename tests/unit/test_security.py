"""The Content-Security-Policy the page sends, as written."""

from __future__ import annotations

from statuspage.web.security import CONTENT_SECURITY_POLICY

from ..helpers.http import csp_directives


def test_the_policy_allows_only_the_pages_own_files() -> None:
    policy = csp_directives(CONTENT_SECURITY_POLICY)
    assert all(values in (["'self'"], ["'none'"]) for values in policy.values())
