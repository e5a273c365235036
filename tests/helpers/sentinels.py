"""A sentinel value for every secret setting (and RENDER_API_KEY, which only ``env`` reads): each
unique to the session and recognisable in any output."""

from __future__ import annotations

import uuid

from statuspage.demo.pgserver import free_port


def sentinel(kind: str) -> str:
    return f"sentinel-{kind}-{uuid.uuid4().hex}"


DB_PASSWORD, HISTORY_PASSWORD, ENGINE_PASSWORD = sentinel("dbpw"), sentinel("histpw"), sentinel("enginepw")
WEBHOOK_TOKEN, OPS_TOKEN, RENDER_API_KEY = sentinel("hook"), sentinel("ops"), sentinel("render")
SENTINELS = [DB_PASSWORD, HISTORY_PASSWORD, ENGINE_PASSWORD, WEBHOOK_TOKEN, OPS_TOKEN, RENDER_API_KEY]


def secret_environment(pg_port: int) -> dict[str, str]:
    """A value for every secret setting, each holding its sentinel."""
    return {
        "DATABASE_URL": f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{pg_port}/postgres",
        "HISTORY_DATABASE_URL": f"postgresql://postgres:{HISTORY_PASSWORD}@127.0.0.1:{pg_port}/postgres",
        "ENGINE_METRICS_URL": f"http://metrics:{ENGINE_PASSWORD}@127.0.0.1:{free_port()}/metrics",
        "NOTIFY_WEBHOOK_URLS": f"http://127.0.0.1:{free_port()}/hooks/{WEBHOOK_TOKEN}",
        "OPS_TOKEN": OPS_TOKEN,
    }
