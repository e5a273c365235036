"""The operator forms (issue 13) over real HTTP: sign in with the token once, a session cookie that is
HttpOnly, SameSite=Strict, limited to /ops and Secure over HTTPS; a CSRF token on every form; the same
write path as the CLI and the API (``via`` form in the log); the public page's policy untouched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlencode

import psycopg
import pytest
from flask import Flask

from statuspage.web.security import CONTENT_SECURITY_POLICY

from ..helpers.dom import parse
from ..helpers.http import LiveServer, Reply, get, http
from ..helpers.opsdata import TOKEN, rows

OPS_POLICY = CONTENT_SECURITY_POLICY.replace("form-action 'none'", "form-action 'self'")


class Browser:
    """Just enough of one: a cookie jar for the operator session, forms posted as a browser would."""

    def __init__(self, server: LiveServer, **headers: str) -> None:
        self.server, self.headers, self.cookie = server, headers, ""

    def _keep(self, reply: Reply) -> Reply:
        set_cookie = reply.headers.get("set-cookie", "")
        if set_cookie.startswith("statuspage_ops="):
            self.cookie = set_cookie.split(";", 1)[0]
        return reply

    def get(self, path: str) -> Reply:
        return self._keep(get(self.server.url + path, {**self.headers, "Cookie": self.cookie}))

    def post(self, path: str, fields: dict[str, str | list[str]]) -> Reply:
        body = urlencode(fields, doseq=True).encode()
        return self._keep(http("POST", self.server.url + path, {
            **self.headers, "Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"}, body))

    def csrf(self, path: str = "/ops") -> str:
        field = parse(self.get(path).body).find("input", name="csrf")
        assert field is not None, f"no CSRF field on {path}"
        return field.attrs["value"]

    def sign_in(self) -> Reply:
        return self.post("/ops/login", {"csrf": self.csrf("/ops/login"), "token": TOKEN})


@pytest.fixture
def server(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer], ops_db: psycopg.Connection
           ) -> LiveServer:
    return serve(make_app(start_background=False, OPS_TOKEN=TOKEN, TRUSTED_PROXY_HOPS="1"))


def test_signing_in_sets_a_strict_httponly_cookie_for_ops_only_and_shows_the_forms(server: LiveServer) -> None:
    browser = Browser(server)
    assert browser.get("/ops").status == 401  # no token, no session
    login = browser.get("/ops/login")
    assert login.status == 200 and login.headers["content-security-policy"] == OPS_POLICY
    cookie = login.headers["set-cookie"]  # the CSRF token of the sign-in form lives in it
    assert re.fullmatch(r"statuspage_ops=[^;]+; HttpOnly; Path=/ops; SameSite=Strict", cookie), cookie

    signed = browser.sign_in()
    assert (signed.status, signed.headers["location"]) == (303, "/ops")
    attributes = signed.headers["set-cookie"].split("; ")[1:]
    assert attributes[0].startswith("Expires=") and attributes[1:] == ["HttpOnly", "Path=/ops", "SameSite=Strict"]
    ops = browser.get("/ops")
    assert ops.status == 200 and ops.headers["content-security-policy"] == OPS_POLICY
    assert ops.headers["cache-control"] in ("no-store, private", "private, no-store")
    doc = parse(ops.body)
    forms = doc.find_all("form")
    assert len(forms) == 7 and all(f.find("input", name="csrf") is not None for f in forms)
    assert {f.attrs["id"] for f in forms if "id" in f.attrs} >= {"form-incident", "form-update", "form-postmortem",
                                                                 "form-maintenance", "form-announcement"}
    # the public page keeps its policy and never sets a cookie, even sent one (a browser would not: Path=/ops)
    public = get(server.url + "/", {"Cookie": browser.cookie})
    assert public.headers["content-security-policy"] == CONTENT_SECURITY_POLICY and "set-cookie" not in public.headers


def test_over_https_the_cookie_is_secure(server: LiveServer) -> None:
    browser = Browser(server, **{"X-Forwarded-Proto": "https"})  # as Render's proxy says (TRUSTED_PROXY_HOPS=1)
    assert "; Secure" in browser.get("/ops/login").headers["set-cookie"]
    assert "; Secure" in browser.sign_in().headers["set-cookie"]


def test_a_wrong_token_signs_nobody_in_and_is_logged_without_it(server: LiveServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    browser = Browser(server)
    guess = TOKEN[:-2] + "zz"
    with caplog.at_level(logging.WARNING, logger="statuspage"):
        reply = browser.post("/ops/login", {"csrf": browser.csrf("/ops/login"), "token": guess})
    assert reply.status == 401
    assert parse(reply.body).by_id("ops-error").text == "That is not the operator token."
    assert browser.get("/ops").status == 401
    assert [r.getMessage() for r in caplog.records if "sign-in" in r.getMessage()] == [
        "operator forms: failed sign-in from 127.0.0.1"]
    assert not any(guess in r.getMessage() or TOKEN in r.getMessage() for r in caplog.records)


def test_every_form_needs_the_sessions_csrf_token(server: LiveServer, ops_db: psycopg.Connection) -> None:
    browser = Browser(server)
    assert browser.post("/ops/login", {"token": TOKEN}).status == 400  # the sign-in form too
    browser.sign_in()
    fields = {"title": "t", "impact": "minor", "components": "engine", "message": "m"}
    before = rows(ops_db)
    for csrf in (None, "", "not-the-token"):
        sent = fields if csrf is None else {**fields, "csrf": csrf}
        reply = browser.post("/ops/incidents", sent)
        assert reply.status == 400, csrf
    other = Browser(server)
    other.sign_in()
    assert browser.post("/ops/incidents", {**fields, "csrf": other.csrf()}).status == 400  # another session's
    assert rows(ops_db) == before
    assert Browser(server).post("/ops/incidents", {**fields, "csrf": "x"}).status == 401  # no session at all


def test_a_form_writes_through_the_same_path_and_a_refusal_writes_nothing(server: LiveServer,
                                                                         ops_db: psycopg.Connection) -> None:
    browser = Browser(server)
    browser.sign_in()
    csrf = browser.csrf()
    before = rows(ops_db)
    refused = browser.post("/ops/incidents", {"csrf": csrf, "title": " ", "impact": "minor",
                                              "components": ["engine"], "message": "m"})
    assert refused.status == 400 and parse(refused.body).by_id("ops-error").text == "title is empty"
    unknown = browser.post("/ops/incidents/update", {"csrf": csrf, "incident": "987654321", "status": "identified",
                                                     "message": "m"})
    assert unknown.status == 404 and parse(unknown.body).by_id("ops-error").text == "incident 987654321 does not exist"
    assert rows(ops_db) == before

    opened = browser.post("/ops/incidents", {"csrf": csrf, "title": "Engine flat", "impact": "major",
                                             "components": ["engine", "metrics"], "message": "We know."})
    assert (opened.status, opened.headers["location"]) == (303, "/ops")
    incident_id, components = ops_db.execute("SELECT id, components FROM statuspage.operator_incidents").fetchone()
    assert components == ["engine", "metrics"]
    done = parse(browser.get("/ops").body).find(cls="ops-done")
    assert done is not None and done.text == f"Incident {incident_id} opened."
    window = browser.post("/ops/maintenances", {"csrf": csrf, "title": "Deploy", "components": "engine",
                                                "minutes": "20"})
    assert window.status == 303
    assert browser.post("/ops/announcement", {"csrf": csrf, "message": "Hello"}).status == 303
    assert ops_db.execute("SELECT via, who, action FROM statuspage.operator_log ORDER BY id").fetchall() == [
        ("form", "127.0.0.1", "incident.open"), ("form", "127.0.0.1", "maintenance.schedule"),
        ("form", "127.0.0.1", "announce")]

    out = browser.post("/ops/logout", {"csrf": csrf})
    assert (out.status, out.headers["location"]) == (303, "/ops/login")
    assert browser.get("/ops").status == 401


def test_without_a_token_configured_there_is_no_sign_in(make_app: Callable[..., Flask],
                                                       serve: Callable[[Flask], LiveServer]) -> None:
    server = serve(make_app(start_background=False))
    assert get(server.url + "/ops/login").status == 404
    assert "set-cookie" not in get(server.url + "/").headers
