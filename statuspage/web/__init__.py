"""Everything Flask-facing: blueprints, templates' filters and globals, error pages, headers.

Views read the process's memory (``state``) and serve bytes cached in ``responses``; they never
query the database.
"""

from __future__ import annotations

from flask import Flask

from ..config import Settings
from ..formatting import FILTERS
from ..vocabulary import TEMPLATE_GLOBALS
from . import errors, openapi, ops, security, track, views
from .htmx import HTMX_CONFIG
from .responses import ResponseCache


def init_app(app: Flask, settings: Settings) -> None:
    env = app.jinja_env
    env.filters.update(FILTERS)
    env.globals.update(TEMPLATE_GLOBALS, htmx_config=HTMX_CONFIG)
    env.trim_blocks = env.lstrip_blocks = True  # block tags leave no blank lines in the HTML
    app.extensions["statuspage.responses"] = ResponseCache()
    app.register_blueprint(views.bp)
    app.register_blueprint(openapi.bp)
    track.init_app(app)
    ops.init_app(app, settings)  # only with OPS_TOKEN set
    errors.init_app(app)
    security.init_app(app, settings)
