"""The production app, built by the production entry point, plus one reference route: the
framework's floor (bench/floor.py). ``gunicorn -c gunicorn.conf.py bench.wsgi_bench:app``; never
deployed."""

from bench.floor import add_floor
from wsgi import app

add_floor(app)
