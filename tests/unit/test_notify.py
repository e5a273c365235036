"""What a notification says, to a plain receiver and to chat webhooks."""

from __future__ import annotations

import json

from statuspage import notify

PUBLIC = "https://status.example.com/"


def test_chat_webhooks_get_their_own_format() -> None:
    message = {"event": "incident.opened", "component": "engine", "from": "operational", "to": "degraded",
               "at": "2026-04-30T12:00:10Z", "duration_s": None, "detail": "engine reports no database connection",
               "page_url": PUBLIC}
    slack = json.loads(notify.request_body("https://hooks.slack.com/services/T0/B0/xyz", message))
    assert slack == {"text": "[DEGRADED] Trading engine is degraded (was operational) since 2026-04-30T12:00:10Z: "
                             "engine reports no database connection. https://status.example.com/"}
    resolved = {**message, "event": "incident.resolved", "from": "degraded", "to": "operational", "duration_s": 750}
    discord = json.loads(notify.request_body("https://discord.com/api/webhooks/1/abc", resolved))
    # 750 s is 12.5 min: durations are rounded, halves up
    assert discord == {"content": "[RESOLVED] Trading engine is operational again after 13 min. "
                                  "https://status.example.com/"}
    assert json.loads(notify.request_body("https://example.com/hook", message)) == message
