"""The contract of the public JSON endpoints: an OpenAPI 3.1 document, served at /openapi.json.

The document is ``statuspage/web/openapi.json``, kept by hand beside the views it describes and checked
against them by a schemathesis run in the tests (tests/integration/test_openapi.py). It is read and validated
as JSON once, when the app is built: a broken file stops start-up, not a request.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState

from .responses import Rendered, etag_of, send

DOCUMENT = Path(__file__).with_name("openapi.json")

bp = Blueprint("openapi", __name__)


@functools.cache
def document() -> Rendered:
    body = json.dumps(json.loads(DOCUMENT.read_text()), separators=(",", ":")).encode()
    return Rendered(body, etag_of(body))


@bp.record_once
def _load(setup: BlueprintSetupState) -> None:
    document()


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return send(document(), "application/json", current_app.extensions["statuspage.cache_policy"].document)
