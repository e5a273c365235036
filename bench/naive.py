"""What the snapshot design replaces: a minimal Flask app that reads statuspage's SQL on every
request (the same queries, invariants and JSON, no cached history, no cached bytes).
``gunicorn -c gunicorn.conf.py bench.naive:app``; kept here, never in the app.
"""

from __future__ import annotations

import json

from flask import Flask, Response

from statuspage.config import load_settings
from statuspage.db import make_pool
from statuspage.formatting import utcnow
from statuspage.snapshot import refresh_once

settings = load_settings()
pool = make_pool(settings)
app = Flask(__name__)


@app.get("/performance/landing")
def landing() -> Response:
    snap = refresh_once(pool, utcnow(), settings.db_connect_timeout_s)  # the whole history, every time
    body = json.dumps(snap.to_public(stale=False), separators=(",", ":"))
    return Response(body, mimetype="application/json")
