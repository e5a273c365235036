"""Everything Flask-facing: blueprints, templates' filters and globals, error pages, headers.

Views read the process's memory (``state``) and serve bytes cached in ``responses``; they never
query the database.
"""

from __future__ import annotations

from flask import Flask

from ..config import Settings
from ..formatting import FILTERS
from ..vocabulary import TEMPLATE_GLOBALS
from . import api_v2, errors, openapi, ops, ops_api, ops_forms, security, views
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
    app.register_blueprint(api_v2.bp)
    ops.init_app(app, settings)  # only with OPS_TOKEN set
    ops_api.init_app(app, settings)  # likewise
    ops_forms.init_app(app, settings)  # its routes come with ops's blueprint; here its session cookie
    errors.init_app(app)
    security.init_app(app, settings)
