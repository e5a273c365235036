"""What a stranger sees when something goes wrong: a short page, or ``{"error": ...}`` on the API
paths, with a status and a fixed phrase. Never a traceback, an exception's text or a setting: those
go to the server's log (500s with their traceback), not to the client.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

API_PATHS = frozenset({"/livez", "/readyz", "/healthz"})
API_PREFIXES = ("/performance/", "/api/")
API_SUFFIX = ".json"  # /status.json, /history.json, /openapi.json, /ops.json

# The only header of werkzeug's own error responses that carries meaning: Allow on a 405,
# WWW-Authenticate on a 401. Everything else is built here.
_KEPT_HEADERS = ("Allow", "WWW-Authenticate")


def is_api_path(path: str) -> bool:
    return path in API_PATHS or path.startswith(API_PREFIXES) or path.endswith(API_SUFFIX)


def _phrase(error: HTTPException) -> str:
    # werkzeug's name for the status ("Not Found"), never error.description, which a caller of
    # abort() may have filled with details.
    return (error.name or "Error").lower()


def error_response(error: HTTPException) -> Response:
    code = error.code or 500
    if is_api_path(request.path):
        body = json.dumps({"error": _phrase(error)}, separators=(",", ":"))
        response = Response(body, status=code, mimetype="application/json")
    else:
        try:
            body = render_template("error.html", code=code, phrase=error.name or "Error")
        except Exception:  # a broken template must not turn a 404 into a traceback
            log.exception("error page %s could not be rendered", code)
            body = f"{code} {error.name}\n"
            response = Response(body, status=code, mimetype="text/plain")
        else:
            response = Response(body, status=code, mimetype="text/html")
    for name, value in error.get_headers():
        if name in _KEPT_HEADERS:
            response.headers[name] = value
    response.cache_control.no_store = True
    return response


def init_app(app: Flask) -> None:
    """Handle every HTTP error, including the 500 Flask makes of an unhandled exception (logged
    by Flask with its traceback before this handler runs), and keep debug mode off for good."""
    # Whatever FLASK_DEBUG, app.run(debug=True) or a later ``app.debug = True`` says: an exception
    # is never re-raised to the server, where the werkzeug debugger could show it.
    app.config.update(DEBUG=False, PROPAGATE_EXCEPTIONS=False, TRAP_HTTP_EXCEPTIONS=False,
                      TRAP_BAD_REQUEST_ERRORS=False, EXPLAIN_TEMPLATE_LOADING=False)
    # Flask passes an unhandled exception to this handler as InternalServerError(original_exception=...),
    # an HTTPException too: the original stays in the log.
    app.register_error_handler(HTTPException, error_response)
