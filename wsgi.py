"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import sys

from statuspage import create_app
from statuspage.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line per bad setting, no traceback: the message is the whole story.
    sys.exit("\n".join(f"statuspage: {problem}" for problem in exc.problems))
