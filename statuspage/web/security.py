"""What every response says about how a browser may treat it, and which proxy headers are believed.

The page is public: its only script and styles are its own files, nothing is inline, it embeds
nothing and may be embedded nowhere. HTTPS is decided by the request as the trusted proxy saw it
(``TRUSTED_PROXY_HOPS``), never by a header any visitor can send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, request
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# No 'unsafe-inline' or 'unsafe-eval' anywhere: htmx is configured for this policy (web/htmx.py)
# and page.js is a file. Directives that do not fall back to default-src are spelled out.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
    # No Cross-Origin-Resource-Policy: same-origin, which would stop other sites showing the badges.
}

HEADER_LIST = tuple(HEADERS.items())


class SecuredResponse(Response):
    """An answer built with every header of HEADER_LIST already (responses.send): add_headers
    knows it by its class instead of scanning its headers.

    Its headers are its own (built for this request, bytes with their Content-Length, no Location
    to resolve), so they are sent as they are: werkzeug's get_wsgi_headers would copy them, checking
    every header again, to adjust what these answers never hold. A 304 keeps werkzeug's rules
    (it drops the entity headers)."""

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        if self.status_code == 304:
            return super().get_wsgi_headers(environ)
        return self.headers


# Two years, the preload lists' minimum. Not includeSubDomains: other hosts under a custom domain
# are not this page's to commit to HTTPS.
HSTS = "max-age=63072000"


def add_headers(response: Response) -> Response:
    headers = response.headers
    # The cached bytes, which are most answers, carry every header above already: they skip six
    # setdefault() scans of their headers.
    if not isinstance(response, SecuredResponse):
        for name, value in HEADERS.items():
            headers.setdefault(name, value)
        # An answer that does not say it may be cached may not be: /metrics and the like.
        headers.setdefault("Cache-Control", "no-store")
    # Only over HTTPS (RFC 6797 8.1: a browser ignores it over HTTP, and an HTTP answer saying it
    # would be a lie about how the visitor reached us).
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def trust_proxies(app: Flask, hops: int) -> None:
    """Believe X-Forwarded-For and X-Forwarded-Proto from ``hops`` proxies in front of us; with 0,
    from nobody: a visitor's own X-Forwarded-Proto must not make a plain request look secure."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def init_app(app: Flask, settings: Settings) -> None:
    trust_proxies(app, settings.trusted_proxy_hops)
    app.after_request(add_headers)
