"""A person's sessions on event time, as pure transitions: apply an event, close an idle session, merge.

A session is a run of activity (page, screen and track events) without a gap of more than ``idle_timeout``
(30 min) of *event time*. Gaps are compared with ``>``: a gap of exactly the timeout continues the session::

    event time ─────────────────────────────────────────────────────────────────────────────▶
    │ session A: start ... end │── gap > idle ──│ session B: start ...
                              ▲                  ▲
                              A.end              the event that closes A (apply returns A's summary)
                                                 and opens B

    an event at t, with the open session C (if any) and the newest closed session ending at E (if any):
      C.start - idle <= t <= C.end + idle      applied to C (out of order within C is fine: pages stay sorted)
      t > C.end + idle                         closes C, then as with no open session
      t < C.start - idle                       late: not applied (a session closed, or never seen)
      t < C.start and t <= E + idle            late: it would extend the closed session
      no open session, t <= E + idle           late (its session was closed on the wall clock)
      no open session, otherwise               opens a new session at t

Heartbeats are activity: a visible tab keeps its session open.

Two ways to close, with the same result: ``apply`` closes on event time (the next event is too late for the
session), ``close_if_idle`` on the wall clock (``now > end + idle + close_grace``), for a timer; ``due_at``
says when that becomes true, for the timer's index. A summary depends only on the session, never on when or
how it was closed, and closing a closed state changes nothing, so a replay or a re-run timer ends up where an
uninterrupted run did. The grace keeps a wall-clock close from beating events still in flight (mobile SDKs
batch, the pipeline lags); an event that arrives after its session was closed is late.

Session ids are ``<hash of the person>-<time of the session's first applied event, ms>``: the same events in
the same order give the same ids (an event before the start moves ``start`` but not the id).

Person state (JSON, bounded: one table value, written on every event)::

    {"current": session | None,        the open session
     "history": [summary, ...],        closed sessions, newest first, at most history_size
     "closed_end": 1795737720.7,       end of the newest closed session (the late-event watermark), or None
     "sequence": [[at, type, [items]], ...]}   last sequence_length page types / items, across sessions

    session: {"id": "9f2c4e1ab377-1795737000123", "start": t, "end": t,
              "events": 12,                    every event applied, heartbeats included
              "page_count": 4,                 page views, including any dropped from "pages"
              "max_scroll": 80 | None, "converted": false,
              "page_types": {"product": 2, "home": 1, ...},   page views per type (at most 20 types)
              "pages": [page, ...],            sorted by "at"; the entry page and the latest, ≤ max_pages
              "sequence": [[at, type, [items]], ...]}      last sequence_length, oldest first

    page:    {"page_view_id", "path", "page_type", "at", "title"?, "dwell_ms"?, "scroll_depth"?}

Pages: a page view (``page``/``screen``) is one page, its id the event's ``page_view_id``, else its
``event_id`` (the tracker's page view id is the page message's id). An engagement event (the tracker's
"Page Engaged": any non-page event carrying ``page_view_id`` and ``dwell_ms``/``scroll_depth``) raises that
page's ``dwell_ms`` and ``scroll_depth`` to the maximum seen (both are cumulative). Engagement and page views
travel on different topics, so a heartbeat may come first: it then adds the page (at the heartbeat's time,
path and type from its context), and the page view, when it comes, fills in and moves it to its own time.

Sequence: a page view, an event carrying item ids, or an event whose name is the view of a page type
("Cart Viewed") adds ``[at, page type, first sequence_items item ids]``. Appended in order, an entry equal
to the last is dropped, and items fill a last entry of the same type that had none (a page view then its
"Product Viewed"). Heartbeats add nothing.

Summary of a closed session (a history entry; what a timer or the next event emits)::

    {"id", "start", "end", "duration_s", "events", "page_count", "max_scroll", "converted",
     "bounce", "quick_exit", "page_types",
     "entry": {"path", "page_type"} | None, "exit": {"path", "page_type", "dwell_ms"} | None,
     "pages": [first and last summary_edge_pages pages, without title and page view id]}

- ``bounce``: exactly one page view, not converted, and both the duration (last - first event time) and
  that page's visible dwell are under ``bounce_threshold`` (10 s).
- ``quick_exit``: not converted, the exit page (the latest page) has a type in ``quick_exit_types``
  (product, cart, checkout) and its dwell is under ``quick_exit_dwell`` (15 s). Its dwell is its visible
  ``dwell_ms`` when a heartbeat reported one, else the time from its view to the session's last event (so a
  session tracked without heartbeats that ends on a product page counts as a quick exit).
- ``converted``: an event named in ``conversion_names`` ("Order Completed") was applied.

Merging (an anonymous visitor logs in): histories interleave by start; if both have an open session and
they are within ``idle_timeout`` of each other, one open session holds both (the earlier one's id; pages and
sequences in time order, counts added, a page view present in both counted once); if they are further apart
the earlier one is closed (``SessionStep.closed``) and the later stays open.
"""

from __future__ import annotations

import hashlib
from bisect import insort
from dataclasses import dataclass, field
from typing import Any, Mapping

from tastemaker.page_types import PageTypes, path_of

MAX_COUNTED_TYPES = 20  # explicit page types are free text: bound the per-session counts


@dataclass(frozen=True)
class SessionConfig:
    #: Event-time gap after which the next event starts a new session, seconds (a gap > this, not >=).
    idle_timeout: float = 1800.0
    #: Extra wall-clock wait before close_if_idle closes an idle session, for events still in flight, seconds.
    close_grace: float = 60.0
    #: Page views kept per open session: the entry page and the latest ones.
    max_pages: int = 50
    #: Entries of the page type / item sequence kept per session and per person.
    sequence_length: int = 20
    #: Item ids kept per sequence entry (a product list carries up to 50).
    sequence_items: int = 5
    #: Closed-session summaries kept per person, newest first.
    history_size: int = 10
    #: Pages kept at each end of a closed session's page list in its summary (history holds 10 summaries).
    summary_edge_pages: int = 2
    #: A one-page session whose duration and visible dwell are both under this is a bounce, seconds.
    bounce_threshold: float = 10.0
    #: Dwell on the exit page under which a session ending on a quick_exit_types page is a quick exit, seconds.
    quick_exit_dwell: float = 15.0
    #: Page types whose quick exit is worth knowing: abandoned product, cart and checkout pages.
    quick_exit_types: frozenset[str] = frozenset({"product", "cart", "checkout"})
    #: Event names that mark a session converted.
    conversion_names: frozenset[str] = frozenset({"Order Completed"})
    #: Event types that are a page view.
    page_view_types: frozenset[str] = frozenset({"page", "screen"})
    #: Event types that are activity; others (identify from a CRM sync, group) leave sessions alone.
    activity_types: frozenset[str] = frozenset({"page", "screen", "track"})
    #: Longest page path stored, characters.
    max_path_length: int = 200
    #: Longest page title stored, characters.
    max_title_length: int = 100
    #: How events are classified into page types.
    page_types: PageTypes = field(default_factory=PageTypes)


DEFAULT = SessionConfig()


@dataclass(frozen=True)
class SessionStep:
    state: dict[str, Any]  # the person's session state to store (a copy of the input when nothing changed)
    closed: dict[str, Any] | None = None  # the summary of a session this step closed
    late: bool = False  # the event belongs to a session already closed: not applied

    def __init__(self, state: dict[str, Any], closed: dict[str, Any] | None = None, late: bool = False) -> None:
        # One per event: filling the dict costs a third of the generated frozen __init__ (object.__setattr__).
        self.__dict__.update(state=state, closed=closed, late=late)


def empty() -> dict[str, Any]:
    return {"current": None, "history": [], "closed_end": None, "sequence": []}


def session_id(person: str, at: float) -> str:
    """``<12 hex digits of the person's hash>-<epoch ms>``: sorts by start within a person, same on replay."""
    return f"{hashlib.blake2b(person.encode(), digest_size=6).hexdigest()}-{round(at * 1000)}"


def due_at(state: Mapping[str, Any] | None, config: SessionConfig = DEFAULT) -> float | None:
    """Wall-clock time after which ``close_if_idle`` closes the open session (None: nothing open)."""
    current = state and state["current"]
    return current["end"] + config.idle_timeout + config.close_grace if current else None


def close_if_idle(state: Mapping[str, Any] | None, now: float, config: SessionConfig = DEFAULT) -> SessionStep:
    """Close the open session if ``now`` (wall clock) is past ``due_at``; else change nothing."""
    state = state or empty()
    due = due_at(state, config)
    if due is None or now <= due:
        return SessionStep(dict(state))
    closed, summary = _close(state, config)
    return SessionStep(closed, summary)


def apply(state: Mapping[str, Any] | None, event: Mapping[str, Any], config: SessionConfig = DEFAULT) -> SessionStep:
    """Apply a normalized event on event time: it may close the open session first (``closed``), or be
    ``late`` and change nothing. Events of types outside ``activity_types`` change nothing either."""
    state = state or empty()
    if event["type"] not in config.activity_types:
        return SessionStep(dict(state))
    at = event["event_time"]
    idle = config.idle_timeout
    current, closed_end = state["current"], state["closed_end"]
    summary = None
    if current is not None and at > current["end"] + idle:
        state, summary = _close(state, config)
        current, closed_end = None, state["closed_end"]
    if current is None:
        if closed_end is not None and at <= closed_end + idle:
            return SessionStep(dict(state), late=True)
        current = _new_session(event)
    elif at < current["start"]:  # before the open session: an earlier session's, unless close enough
        reaches_closed = closed_end is not None and at <= closed_end + idle
        if at < current["start"] - idle or reaches_closed:
            return SessionStep(dict(state), late=True)
    entry = _sequence_entry(event, config)
    session = _apply_to_session(current, event, entry, config)
    sequence = _add_to_sequence(state["sequence"], entry, config) if entry else state["sequence"]
    return SessionStep({**state, "current": session, "sequence": sequence}, summary)


def merge(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, config: SessionConfig = DEFAULT) -> SessionStep:
    """The state of a person who is both ``a`` and ``b`` (symmetric: ``merge(a, b) == merge(b, a)``)."""
    a, b = a or empty(), b or empty()
    history = _newest_first(list(a["history"]) + list(b["history"]), config)
    ends = [e for e in (a["closed_end"], b["closed_end"]) if e is not None]
    closed_end = max(ends) if ends else None
    sequence = _by_time(list(a["sequence"]) + list(b["sequence"]))[-config.sequence_length:]
    opened = sorted((s for s in (a["current"], b["current"]) if s), key=lambda s: (s["start"], s["id"]))
    summary = None
    if len(opened) == 2:
        first, second = opened
        if second["start"] > first["end"] + config.idle_timeout:  # the earlier one ended before the later began
            summary = summarize(first, config)
            history = _newest_first(history + [summary], config)
            closed_end = first["end"] if closed_end is None else max(closed_end, first["end"])
            current = second
        else:
            current = _combine(first, second, config)
    else:
        current = opened[0] if opened else None
    return SessionStep({"current": current, "history": history, "closed_end": closed_end, "sequence": sequence},
                       summary)


def summarize(session: Mapping[str, Any], config: SessionConfig = DEFAULT) -> dict[str, Any]:
    """The summary of a session (closed, or the open one as it stands)."""
    pages = session["pages"]
    duration = session["end"] - session["start"]
    entry = exit_ = None
    exit_dwell_ms = None
    if pages:
        first, last = pages[0], pages[-1]
        entry = {"path": first["path"], "page_type": first["page_type"]}
        exit_dwell_ms = last.get("dwell_ms")
        if exit_dwell_ms is None:  # no heartbeat: what event time shows
            exit_dwell_ms = round((session["end"] - last["at"]) * 1000)
        exit_ = {"path": last["path"], "page_type": last["page_type"], "dwell_ms": exit_dwell_ms}
    converted = session["converted"]
    bounce = (session["page_count"] == 1 and len(pages) == 1 and not converted
              and duration < config.bounce_threshold
              and (pages[0].get("dwell_ms") or 0) < config.bounce_threshold * 1000)
    quick_exit = bool(exit_ and not converted and exit_["page_type"] in config.quick_exit_types
                      and exit_dwell_ms < config.quick_exit_dwell * 1000)
    edge = config.summary_edge_pages
    kept = pages if len(pages) <= 2 * edge else pages[:edge] + pages[-edge:]
    return {
        "id": session["id"],
        "start": session["start"],
        "end": session["end"],
        "duration_s": round(duration, 3),
        "events": session["events"],
        "page_count": session["page_count"],
        "max_scroll": session["max_scroll"],
        "converted": converted,
        "bounce": bounce,
        "quick_exit": quick_exit,
        "page_types": dict(session["page_types"]),
        "entry": entry,
        "exit": exit_,
        "pages": [{k: v for k, v in page.items() if k not in ("title", "page_view_id")} for page in kept],
    }


# --- transitions of one session ------------------------------------------------------------------------


def _new_session(event: Mapping[str, Any]) -> dict[str, Any]:
    at = event["event_time"]
    person = event.get("person") or event.get("key") or ""
    return {"id": session_id(person, at), "start": at, "end": at, "events": 0, "page_count": 0,
            "max_scroll": None, "converted": False, "page_types": {}, "pages": [], "sequence": []}


def _apply_to_session(
    session: Mapping[str, Any], event: Mapping[str, Any], entry: list | None, config: SessionConfig
) -> dict[str, Any]:
    at = event["event_time"]
    session = {**session, "start": min(session["start"], at), "end": max(session["end"], at),
               "events": session["events"] + 1}
    if event.get("name") in config.conversion_names:
        session["converted"] = True
    if event["type"] in config.page_view_types:
        _page_view(session, event, config)
    elif event.get("page_view_id") and (event.get("dwell_ms") is not None or event.get("scroll_depth") is not None):
        _engagement(session, event, config)
    if entry:
        session["sequence"] = _add_to_sequence(session["sequence"], entry, config)
    return session


def _page_view(session: dict[str, Any], event: Mapping[str, Any], config: SessionConfig) -> None:
    """Add the page (or fill in the one a heartbeat added first; a repeated page view changes nothing more)."""
    page_view_id = event.get("page_view_id") or event.get("event_id") or f"at-{event['event_time']}"
    pages = list(session["pages"])
    index = _find(pages, page_view_id)
    seen = _page_of(event, page_view_id, config)
    if index is None:
        _count_page(session, seen["page_type"])
        insort(pages, seen, key=_at)
    else:
        earlier = pages.pop(index)
        if earlier["page_type"] != seen["page_type"]:  # the heartbeat's guess gives way to the page view's
            _count_page(session, seen["page_type"], earlier["page_type"])
        page = {**seen, "at": min(earlier["at"], seen["at"])}
        for name in ("dwell_ms", "scroll_depth"):
            values = [v for v in (earlier.get(name), seen.get(name)) if v is not None]
            if values:
                page[name] = max(values)
        insort(pages, page, key=_at)
    session["pages"] = _bounded_pages(pages, config)
    _raise_max_scroll(session, event.get("scroll_depth"))


def _engagement(session: dict[str, Any], event: Mapping[str, Any], config: SessionConfig) -> None:
    page_view_id = event["page_view_id"]
    pages = list(session["pages"])
    index = _find(pages, page_view_id)
    if index is None:  # the heartbeat came before its page view (another topic): add the page for now
        page = _page_of(event, page_view_id, config)
        _count_page(session, page["page_type"])
        insort(pages, page, key=_at)
        session["pages"] = _bounded_pages(pages, config)
    else:
        page = pages[index] = dict(pages[index])
        for name in ("dwell_ms", "scroll_depth"):
            value = event.get(name)
            if value is not None and (page.get(name) is None or value > page[name]):
                page[name] = value
        session["pages"] = pages
    _raise_max_scroll(session, event.get("scroll_depth"))


def _page_of(event: Mapping[str, Any], page_view_id: str, config: SessionConfig) -> dict[str, Any]:
    path = path_of(event)
    page = {"page_view_id": page_view_id, "path": path[: config.max_path_length] if path else None,
            "page_type": config.page_types.of(event), "at": event["event_time"]}
    if event.get("page_title"):
        page["title"] = event["page_title"][: config.max_title_length]
    for name in ("dwell_ms", "scroll_depth"):
        if event.get(name) is not None:
            page[name] = event[name]
    return page


def _find(pages: list[dict[str, Any]], page_view_id: str) -> int | None:
    for index in range(len(pages) - 1, -1, -1):  # heartbeats are mostly for the latest page
        if pages[index]["page_view_id"] == page_view_id:
            return index
    return None


def _at(page: Mapping[str, Any]) -> tuple[float, str]:
    return page["at"], page["page_view_id"]  # ties in a fixed order, whichever arrived first


def _bounded_pages(pages: list[dict[str, Any]], config: SessionConfig) -> list[dict[str, Any]]:
    # Keep the entry page (the session's first) and the latest: drop the second oldest.
    while len(pages) > max(config.max_pages, 2):
        del pages[1]
    return pages


def _count_page(session: dict[str, Any], page_type: str, replaces: str | None = None) -> None:
    counts = dict(session["page_types"])
    if replaces is None:
        session["page_count"] += 1
    elif counts.get(replaces, 0) > 1:
        counts[replaces] -= 1
    else:
        counts.pop(replaces, None)
    if page_type in counts or len(counts) < MAX_COUNTED_TYPES:
        counts[page_type] = counts.get(page_type, 0) + 1
    session["page_types"] = counts


def _raise_max_scroll(session: dict[str, Any], depth: int | None) -> None:
    if depth is not None and (session["max_scroll"] is None or depth > session["max_scroll"]):
        session["max_scroll"] = depth


# --- sequences -----------------------------------------------------------------------------------------


def _sequence_entry(event: Mapping[str, Any], config: SessionConfig) -> list | None:
    items = event.get("item_ids") or []
    is_view = event["type"] in config.page_view_types
    if not (is_view or items or (event.get("name") and config.page_types.of_name(event["name"]))):
        return None
    return [event["event_time"], config.page_types.of(event), list(items[: config.sequence_items])]


def _add_to_sequence(sequence: list, entry: list, config: SessionConfig) -> list:
    sequence = list(sequence)
    if sequence and entry[0] >= sequence[-1][0]:
        last = sequence[-1]
        if last[1] == entry[1] and last[2] == entry[2]:
            return sequence  # the same again (a Product Added after its Product Viewed)
        if last[1] == entry[1] and not last[2] and entry[2]:
            sequence[-1] = [last[0], last[1], entry[2]]  # a page view, then the items it shows
            return sequence
        sequence.append(entry)
    else:
        insort(sequence, entry, key=lambda e: e[0])
    return sequence[-config.sequence_length:]


def _by_time(entries: list) -> list:
    return sorted(entries, key=lambda e: (e[0], e[1], e[2]))


# --- closing and merging -------------------------------------------------------------------------------


def _close(state: Mapping[str, Any], config: SessionConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    current = state["current"]
    summary = summarize(current, config)
    closed_end = current["end"] if state["closed_end"] is None else max(state["closed_end"], current["end"])
    history = _newest_first([summary] + list(state["history"]), config)
    return {**state, "current": None, "history": history, "closed_end": closed_end}, summary


def _newest_first(summaries: list, config: SessionConfig) -> list:
    unique = {s["id"]: s for s in summaries}  # merging a state with a copy of itself adds nothing
    return sorted(unique.values(), key=lambda s: (s["start"], s["id"]), reverse=True)[: config.history_size]


def _combine(first: Mapping[str, Any], second: Mapping[str, Any], config: SessionConfig) -> dict[str, Any]:
    """One open session from two that overlap in time; ``first`` started earlier and gives the id."""
    counts = dict(first["page_types"])
    for page_type, n in second["page_types"].items():
        if page_type in counts or len(counts) < MAX_COUNTED_TYPES:
            counts[page_type] = counts.get(page_type, 0) + n
    by_id: dict[str, dict[str, Any]] = {}
    for page in list(first["pages"]) + list(second["pages"]):
        known = by_id.get(page["page_view_id"])
        if known is None:
            by_id[page["page_view_id"]] = dict(page)
            continue
        if counts.get(page["page_type"], 0) > 1:  # one page view seen by both: count it once
            counts[page["page_type"]] -= 1
        known["at"] = min(known["at"], page["at"])
        for name in ("dwell_ms", "scroll_depth"):
            values = [v for v in (known.get(name), page.get(name)) if v is not None]
            if values:
                known[name] = max(values)
    pages = sorted(by_id.values(), key=_at)
    shared = len(first["pages"]) + len(second["pages"]) - len(pages)
    scrolls = [s for s in (first["max_scroll"], second["max_scroll"]) if s is not None]
    return {
        "id": first["id"],
        "start": min(first["start"], second["start"]),
        "end": max(first["end"], second["end"]),
        "events": first["events"] + second["events"],
        "page_count": first["page_count"] + second["page_count"] - shared,
        "max_scroll": max(scrolls) if scrolls else None,
        "converted": first["converted"] or second["converted"],
        "page_types": counts,
        "pages": _bounded_pages(pages, config),
        "sequence": _by_time(list(first["sequence"]) + list(second["sequence"]))[-config.sequence_length:],
    }
