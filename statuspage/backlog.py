"""What this process has seen that the history database does not hold yet.

Every process keeps in memory the component state changes it observed, with their true times, and
one sample per component per minute, until they are written: by this process when it is the
history leader (``history.record`` replays them in order), or dropped when it finds that another
process holds the lock, since that live leader records what it sees itself. While the history
database is unreachable this is the only record of the outage: the page merges it into what it
shows (``history.view``) and the direct alerts read that view. Bounded: a very long outage keeps its
newest transitions and minutes, and says how many it dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .vocabulary import DEGRADED, DOWN, OPERATIONAL, UNKNOWN

MAX_TRANSITIONS = 1000
MAX_MINUTES = 2 * 24 * 60  # two days of samples

# A minute's sample is the worst state seen in it, so an outage shorter than a minute still shows
# (statuspage/sql/history_sample.sql ranks the same way).
STATE_RANK = {UNKNOWN: 0, OPERATIONAL: 1, DEGRADED: 2, DOWN: 3}


def worse(a: str, b: str) -> str:
    return a if STATE_RANK.get(a, 0) >= STATE_RANK.get(b, 0) else b


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Transition:
    seq: int  # order of observation in this process
    component: str
    from_state: str
    to_state: str
    at: datetime  # when this process confirmed it: the true time, whenever it is written
    detail: str  # as history stores it (Component.recorded): no relative ages


class Backlog:
    """Thread-safe: probes add transitions, the history job adds samples and drains both."""

    def __init__(self, max_transitions: int = MAX_TRANSITIONS, max_minutes: int = MAX_MINUTES) -> None:
        self._lock = threading.Lock()
        self._transitions: deque[Transition] = deque()
        self._samples: dict[datetime, dict[str, str]] = {}
        self._max_transitions, self._max_minutes = max_transitions, max_minutes
        self._seq = 0
        self.dropped = 0  # transitions and minutes lost to the bounds

    def change(self, component: str, from_state: str, to_state: str, at: datetime, detail: str) -> None:
        with self._lock:
            self._seq += 1
            self._transitions.append(Transition(self._seq, component, from_state, to_state, at, detail))
            while len(self._transitions) > self._max_transitions:
                self._transitions.popleft()
                self.dropped += 1

    def sample(self, now: datetime, states: Mapping[str, str]) -> None:
        minute = minute_of(now)
        with self._lock:
            seen = self._samples.setdefault(minute, {})
            for component, state in states.items():
                seen[component] = worse(state, seen[component]) if component in seen else state
            while len(self._samples) > self._max_minutes:
                del self._samples[min(self._samples)]
                self.dropped += 1

    def pending(self) -> tuple[list[Transition], dict[datetime, dict[str, str]]]:
        """Copies, oldest first: what a writer replays, or the page merges."""
        with self._lock:
            return list(self._transitions), {m: dict(s) for m, s in sorted(self._samples.items())}

    def written(self, transitions: list[Transition], samples: Mapping[datetime, Mapping[str, str]]) -> None:
        """Forget what was committed; anything observed meanwhile stays for the next write."""
        last = transitions[-1].seq if transitions else 0
        with self._lock:
            while self._transitions and self._transitions[0].seq <= last:
                self._transitions.popleft()
            for minute, states in samples.items():
                if self._samples.get(minute) == states:  # not made worse since it was copied
                    del self._samples[minute]

    def clear(self) -> None:
        with self._lock:
            self._transitions.clear()
            self._samples.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._transitions) + len(self._samples)
