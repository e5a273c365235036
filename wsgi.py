"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from statuspage import create_app

app = create_app()
