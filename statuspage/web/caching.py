"""Who may keep an answer, and for how long: the Cache-Control of every cacheable answer, decided
once per app from the settings (pure: no request, no clock).

Everything public and the same for every visitor may be kept by browsers (``max-age``) and by
shared caches, a proxy or a CDN in front (``s-maxage``), which multiplies what the page can serve.
Past that, a shared cache may serve its copy while it fetches a new one (``stale-while-revalidate``)
or while the page fails (``stale-if-error``). Both are bounded by one rule: a copy is never served
once the numbers in it could be older than ``STALE_AFTER_S``, the age at which the page itself
flags them stale. A snapshot may already be ``REFRESH_INTERVAL_S`` old when an answer is built, so
a cache gets the rest: ``STALE_AFTER_S - REFRESH_INTERVAL_S`` seconds in all.

Never cacheable (``no-store``, set where they are answered): health endpoints, errors, the operator
view, its forms and its API (/ops*, /api/ops*), /metrics and anything else that does not say
otherwise (security.add_headers).
"""

from __future__ import annotations

from dataclasses import dataclass

# The page, landing JSON, status.json and the track record: a browser's copy is a few seconds old at most.
LIVE_MAX_AGE_S = 5
# The Statuspage-compatible API (/api/v2/*): the half minute hosted status pages give their clients.
API_MAX_AGE_S = 30
# History, its feed, the badges: they move by the minute.
SLOW_MAX_AGE_S = 60
# The OpenAPI document and the static files change with a deploy only.
DOCUMENT_MAX_AGE_S = 300
# A shared cache's copy of a static file: how long after a deploy it may still serve the old one.
STATIC_S_MAXAGE_S = 60
# No numbers in the document or the static files: a cache may serve them through a day's outage.
SHIPPED_IF_ERROR_S = 86400


def cache_control(max_age: int, s_maxage: int, budget_s: int) -> str:
    """Public, ``max_age`` in browsers and ``s_maxage`` in shared caches, and a shared cache's copy
    never served more than ``budget_s`` after it was fetched."""
    s_maxage = min(s_maxage, budget_s)
    if_error = budget_s - s_maxage
    # Revalidating takes one request; a copy that old is served once, to one visitor, at most.
    while_revalidating = min(s_maxage, if_error)
    return (f"public, max-age={max_age}, s-maxage={s_maxage}, stale-while-revalidate={while_revalidating}, "
            f"stale-if-error={if_error}")


@dataclass(frozen=True)
class CachePolicy:
    live: str  # the page, /performance/landing, /status.json, the track record's JSON and CSV
    fragment: str  # the page's polled regions: browsers revalidate every poll, shared caches absorb them
    slow: str  # /history.json, /history.atom, badges
    api: str  # /api/v2/*
    document: str  # /openapi.json
    static: str  # /static/*: browsers revalidate each time (the page and its script must match)


def policy(refresh_interval_s: float, stale_after_s: float) -> CachePolicy:
    budget = max(0, int(stale_after_s - refresh_interval_s))  # config keeps STALE_AFTER_S above the interval
    return CachePolicy(
        live=cache_control(LIVE_MAX_AGE_S, LIVE_MAX_AGE_S, budget),
        fragment=cache_control(0, LIVE_MAX_AGE_S, budget),
        slow=cache_control(SLOW_MAX_AGE_S, SLOW_MAX_AGE_S, budget),
        api=cache_control(API_MAX_AGE_S, API_MAX_AGE_S, budget),
        document=(f"public, max-age={DOCUMENT_MAX_AGE_S}, s-maxage={DOCUMENT_MAX_AGE_S}, "
                  f"stale-while-revalidate={DOCUMENT_MAX_AGE_S}, stale-if-error={SHIPPED_IF_ERROR_S}"),
        static=(f"public, max-age=0, s-maxage={STATIC_S_MAXAGE_S}, stale-while-revalidate={STATIC_S_MAXAGE_S}, "
                f"stale-if-error={SHIPPED_IF_ERROR_S}"),
    )
