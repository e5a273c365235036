"""The words of health, defined once: components, their states, the overall levels, and how each
is labelled. Python code, templates (as Jinja globals), metrics, feeds and notifications all read
them from here. Pure data.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A component's state. A StrEnum: it compares equal to, and serialises as, its value."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"
    # Shown, never probed: an operator's maintenance window covers the component (statuspage.maintenance).
    MAINTENANCE = "maintenance"

    @property
    def label(self) -> str:
        return self.value.capitalize()


OPERATIONAL, DEGRADED, DOWN, UNKNOWN = State.OPERATIONAL, State.DEGRADED, State.DOWN, State.UNKNOWN
MAINTENANCE = State.MAINTENANCE
STATES: tuple[State, ...] = tuple(State)
STATE_LABELS = {state.value: state.label for state in State}

# In the order the page lists them.
COMPONENT_NAMES = {"engine": "Trading engine", "metrics": "Engine metrics", "database": "Database",
                   "snapshot": "Data snapshot"}
COMPONENTS: tuple[str, ...] = tuple(COMPONENT_NAMES)


class Overall(StrEnum):
    """The banner's level, worst first in ``status.overall``'s rules; declared best first."""

    OPERATIONAL = "operational"
    MAINTENANCE = "maintenance"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial outage"
    MAJOR_OUTAGE = "major outage"

    @property
    def headline(self) -> str:
        return OVERALL_HEADLINES[self]

    @property
    def kind(self) -> str:
        """The icon and colour family the banner uses: ok, warn, partial or down."""
        return OVERALL_KINDS[self]

    @property
    def rank(self) -> int:
        """How bad: the banner shows the worst of several levels (``status.worst``)."""
        return _OVERALL_ORDER.index(self)


_OVERALL_ORDER = tuple(Overall)


OVERALL_HEADLINES = {Overall.OPERATIONAL: "All systems operational", Overall.MAINTENANCE: "Maintenance in progress",
                     Overall.DEGRADED: "Degraded performance", Overall.PARTIAL_OUTAGE: "Partial outage",
                     Overall.MAJOR_OUTAGE: "Major outage"}
OVERALL_KINDS = {Overall.OPERATIONAL: "ok", Overall.MAINTENANCE: "maintenance", Overall.DEGRADED: "warn",
                 Overall.PARTIAL_OUTAGE: "partial", Overall.MAJOR_OUTAGE: "down"}

# Colours of the embeddable SVG badges, by state or overall level.
BADGE_COLOURS = {State.OPERATIONAL: "#1a7f37", State.DEGRADED: "#9a6700", Overall.PARTIAL_OUTAGE: "#bc4c00",
                 State.DOWN: "#cf222e", Overall.MAJOR_OUTAGE: "#cf222e", State.UNKNOWN: "#59636e",
                 State.MAINTENANCE: "#0757ba"}

# --- what operators write (statuspage.operators) ---

# An operator incident's impact, and the banner level it means at least while the incident is open.
IMPACTS = ("none", "minor", "major", "critical")
IMPACT_OVERALL = {"none": Overall.OPERATIONAL, "minor": Overall.DEGRADED, "major": Overall.PARTIAL_OUTAGE,
                  "critical": Overall.MAJOR_OUTAGE}
# An incident's status, in the order incidents usually move through them.
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
RESOLVED = "resolved"
# A maintenance window's state at a given moment.
WINDOW_STATES = ("scheduled", "in_progress", "completed", "cancelled")
OPERATOR_LABELS = {"none": "No impact", "minor": "Minor", "major": "Major", "critical": "Critical",
                   "investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
                   "resolved": "Resolved", "scheduled": "Scheduled", "in_progress": "In progress",
                   "completed": "Completed", "cancelled": "Cancelled"}


def component_name(name: str) -> str:
    """The human name of a component ("Trading engine"); unknown names as they are."""
    return COMPONENT_NAMES.get(name, name)


# What templates see as globals.
TEMPLATE_GLOBALS = {"STATE_LABELS": STATE_LABELS, "COMPONENT_NAMES": COMPONENT_NAMES,
                    "OVERALL_HEADLINES": {level.value: text for level, text in OVERALL_HEADLINES.items()},
                    "OVERALL_KINDS": {level.value: kind for level, kind in OVERALL_KINDS.items()},
                    "OPERATOR_LABELS": OPERATOR_LABELS}
