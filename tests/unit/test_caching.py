"""The caching budget rule (statuspage/web/caching.py): no shared cache serves a copy of the numbers
older than the page itself would show unflagged, STALE_AFTER_S - REFRESH_INTERVAL_S after it was fetched."""

from __future__ import annotations

import pytest

from statuspage.web.caching import cache_control, policy


@pytest.mark.parametrize(("refresh", "stale", "live", "slow", "api"), [
    # Every copy at most STALE_AFTER_S - REFRESH_INTERVAL_S old: fresh for s-maxage, stale for the rest.
    (60, 180, (5, 5, 5, 115), (60, 60, 60, 60), (30, 30, 30, 90)),
    (60, 100, (5, 5, 5, 35), (60, 40, 0, 0), (30, 30, 10, 10)),
    (1, 9, (5, 5, 3, 3), (60, 8, 0, 0), (30, 8, 0, 0)),
    (10, 12, (5, 2, 0, 0), (60, 2, 0, 0), (30, 2, 0, 0)),
])
def test_no_cache_serves_a_copy_older_than_the_page_would_show_unflagged(refresh, stale, live, slow, api) -> None:
    chosen = policy(refresh, stale)
    for text, (max_age, s_maxage, while_revalidating, if_error) in ((chosen.live, live), (chosen.slow, slow),
                                                                    (chosen.api, api)):
        assert text == (f"public, max-age={max_age}, s-maxage={s_maxage}, "
                        f"stale-while-revalidate={while_revalidating}, stale-if-error={if_error}")
        assert s_maxage + max(while_revalidating, if_error) <= stale - refresh
    assert cache_control(0, 5, 100) == "public, max-age=0, s-maxage=5, stale-while-revalidate=5, stale-if-error=95"


def test_send_hands_werkzeug_the_headers_it_would_have_built_itself() -> None:
    """responses.send gives werkzeug its header list without a second check of every value: the
    answer's headers are the ones Headers(list) makes, in the same order, and a value werkzeug
    refuses is still refused (once, by _checked)."""
    from flask import Flask
    from werkzeug.datastructures import Headers

    from statuspage.web import responses, security

    rendered = responses.Rendered(b"<p>x</p>", responses.etag_of(b"<p>x</p>"))
    chosen = policy(60, 180).live
    app = Flask(__name__)
    with app.test_request_context("/"):
        answer = responses.send(rendered, "text/html", chosen)
    assert isinstance(answer.headers, Headers)
    assert list(answer.headers.items()) == list(Headers([
        ("Content-Type", "text/html; charset=utf-8"), ("ETag", f'"{rendered.etag}"'), ("Cache-Control", chosen),
        *security.HEADER_LIST, ("Content-Length", "8")]).items())
    with app.test_request_context("/", headers={"If-None-Match": f'"{rendered.etag}"'}):
        assert responses.send(rendered, "text/html", chosen).status_code == 304
    with pytest.raises(ValueError, match="newline"):
        responses._checked("text/html", "public\r\nSet-Cookie: x=1")
