"""The static files (``/static/<filename>``), served like every other cacheable answer: from memory,
with an ETag that is a hash of their bytes and the Cache-Control of caching.CachePolicy.static.

Flask's own static view tags a file by its modification time, size and path on disk, which differ
between two instances of the same release (checked out at another moment, in another directory):
a cache in front would download again from one instance what it already holds from another. A file
is read once per change of its size or modification time; the cache holds one slot per file that
exists (by its normalised name), so unknown or oddly spelled names add nothing.
"""

from __future__ import annotations

import mimetypes
import os
import stat

from flask import Flask, Response, abort, current_app
from werkzeug.security import safe_join

from .responses import ResponseCache, send


def serve_static(filename: str) -> Response:
    folder = str(current_app.static_folder)
    path = safe_join(folder, filename)  # None for anything outside the folder
    if path is None:
        abort(404)
    try:
        info = os.stat(path)
    except OSError:
        abort(404)
    if not stat.S_ISREG(info.st_mode):
        abort(404)
    name = os.path.relpath(path, folder)

    def read() -> bytes:
        with open(path, "rb") as file:
            return file.read()

    cache: ResponseCache = current_app.extensions["statuspage.responses"]
    rendered = cache.get(f"static:{name}", (info.st_mtime_ns, info.st_size), read)
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return send(rendered, mimetype, current_app.extensions["statuspage.cache_policy"].static)


def init_app(app: Flask) -> None:
    if "static" in app.view_functions:  # the route Flask made for static_folder: url_for("static") still works
        app.view_functions["static"] = serve_static
