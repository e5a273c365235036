"""What the tests share, one home each (fixtures live in ``tests/conftest.py``):

- ``http``: HTTP over real sockets (``http``, ``get``, ``Reply``), an app served on 127.0.0.1
  (``LiveServer``), a Content-Security-Policy read into its directives
- ``wait``: ``wait_until``, the one bounded wait
- ``trades``: ``add_trade`` (the engine's insert), ``utc``, ``EngineSession`` (the engine's connection,
  reporting its table statistics after each statement)
- ``app``: the tests' short intervals (``FAST``, ``settings_for``), background jobs run by hand with a
  given ``now``, the page as a visitor reads it, every public GET, the app in a process of its own,
  ``default_sigint`` for a process stopped as Ctrl-C stops it
- ``gunicorn``: gunicorn exactly as in production, started by a test (the one launcher; ``frontends``
  puts nginx in front of it)
- ``webhooks``: a scripted webhook receiver on 127.0.0.1
- ``browser``: headless Chromium's settings, a tab that records console errors and CSP violations,
  the contrast check (the ``browser`` and ``tabs`` fixtures start them)
- ``envtools``: ``python -m statuspage env`` run against a dict
- ``recompute``: the landing numbers recomputed in plain Python from the definitions in docs/numbers.md
- ``sentinels``: a sentinel value for every secret setting
- ``dom``: a small DOM to read pages as a visitor would
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
