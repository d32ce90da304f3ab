"""Worker settings, read once from environment variables.

Every setting has a default that runs a single local worker against a local broker; docs/configuration.md
lists the same names, defaults and meanings (tests/unit/test_settings.py checks it). A malformed value stops the worker at
start with a message naming the variable, instead of surfacing later as an obscure Kafka or Faust error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tastemaker.access import AccessConfig, AccessError, parse_secrets
from tastemaker.ingest.client_address import parse_networks
from tastemaker.ingest.rate_limit import Rate, RateSpecError
from tastemaker.ingest.request_body import parse_write_keys
from tastemaker.ingest.routing import RouteError, Router
from tastemaker.ingest.sanity import Limits
from tastemaker.page_types import PageTypes


ROLES = ("collector", "stream")


class SettingsError(ValueError):
    """A configuration variable holds a value Tastemaker cannot use."""


def _secrets(env: Mapping[str, str], var: str) -> tuple[str, ...]:
    """A comma-separated list of secrets (tastemaker/access.py parse_secrets); the message names ``var``."""
    if var == "TASTEMAKER_ADMIN_TOKENS" and "TASTEMAKER_ADMIN_TOKEN" in env:
        raise SettingsError("TASTEMAKER_ADMIN_TOKEN is replaced by TASTEMAKER_ADMIN_TOKENS (comma-separated)")
    try:
        return parse_secrets(var, env.get(var, ""))
    except AccessError as exc:
        raise SettingsError(str(exc)) from None


def _rate(env: Mapping[str, str], var: str, default: "Rate | None") -> "Rate | None":
    """A rate limit, ``RATE,BURST`` (events per second) or ``off`` (tastemaker/ingest/rate_limit.py)."""
    raw = env.get(var)
    if raw is None:
        return default
    try:
        return Rate.from_spec(raw)
    except RateSpecError as exc:
        raise SettingsError(f"{var}={raw!r}: {exc}") from None


def _networks(env: Mapping[str, str], var: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks, checked (tastemaker/ingest/client_address.py)."""
    raw = env.get(var, "")
    try:
        return tuple(str(network) for network in parse_networks(raw))
    except ValueError as exc:
        raise SettingsError(f"{var}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    #: Kafka bootstrap servers as Faust URLs, ``kafka://host:port``; several separated by ``;``.
    broker: str = "kafka://127.0.0.1:9092"
    #: Faust app id: the consumer group, and the prefix of changelog and repartition topics.
    app_id: str = "tastemaker"
    #: Prepended to the input and output topic names (internal topics are prefixed by the app id instead).
    topic_prefix: str = ""
    #: Root of the worker's local state; the app keeps its RocksDB tables under ``<data_dir>/<app_id>``.
    data_dir: Path = Path("var/data")
    #: Faust table store: ``rocksdb://`` (RocksDB via rocksdict) or ``memory://``.
    store: str = "rocksdb://"
    #: Partitions of every topic Tastemaker creates; the unit of scale-out (workers <= partitions).
    partitions: int = 8
    #: Replication factor of every topic Tastemaker creates (3 on a production cluster).
    replication: int = 1
    #: Port, bind address and advertised host name of the worker's HTTP server. Peers forward requests
    #: to ``http://<web_host>:<web_port>``, so web_host must be reachable from the other workers.
    web_port: int = 6066
    web_bind: str = "0.0.0.0"
    web_host: str = "127.0.0.1"
    #: What this worker runs: ``collector`` (the HTTP collector and tracker) and/or ``stream`` (the stream
    #: stages, their tables and the views that read them). Split them to scale collection and processing
    #: apart; every worker of one app id that runs ``stream`` shares the partitions.
    roles: tuple[str, ...] = ("collector", "stream")
    #: Kafka consumer-group session timeout, seconds: how soon a dead worker's partitions move elsewhere.
    session_timeout: float = 10.0
    #: Collector write keys and the source name each is bound to: ``key=source,key2=source2``. A secret:
    #: set it in the environment, never in a file in the repository. Empty: the collector accepts nothing.
    write_keys: str = field(default="", repr=False)
    #: Origins allowed to post to the collector from a browser (CORS), comma-separated; ``*`` for any.
    cors_origins: tuple[str, ...] = ()
    #: Extra track-event routes, ``Event Name=topic;...`` (tastemaker/ingest/routing.py).
    event_routes: str = ""
    #: Seconds within which a message with the same messageId from the same source is a duplicate.
    dedup_window: float = 24 * 3600.0
    #: Most raw ids (devices, user ids) one person may hold; past it a new id stays its own person.
    max_ids_per_person: int = 25
    #: Events per minute from one raw id beyond which the rest of that minute is flagged as a bot.
    bot_events_per_minute: int = 120
    #: Visible dwell of one page view beyond which it is clamped, seconds.
    max_dwell: float = 3600.0
    #: Event times this far past their receive time are clamped to it, seconds.
    max_future: float = 300.0
    #: Events older than this when received are refused (dead-lettered), seconds (30 days).
    max_event_age: float = 30 * 24 * 3600.0

    #: A session ends after this many seconds without events (event time; wall clock for idle sessions).
    session_idle: float = 1800.0
    #: Wall-clock seconds past the idle timeout before an idle session is closed (events still in flight).
    session_close_grace: float = 60.0
    #: Events this many seconds older than a person's newest are late: not counted in the windows.
    late_grace: float = 300.0
    #: Decisions (personalized blocks) per person per session and per day, across all rules.
    fatigue_per_session: int = 3
    fatigue_per_day: int = 10
    #: Page types by path, ``type=/glob,/glob;type2=...``, before the defaults (tastemaker/page_types.py).
    page_types: str = ""

    #: How long the interaction history (``<app_id>-interactions``) is kept in Kafka, seconds (30 days);
    #: the model is trained from it.
    interactions_retention: float = 30 * 24 * 3600.0
    #: Train on the last this many seconds of interactions (at most the retention).
    train_window: float = 30 * 24 * 3600.0
    #: The leader worker retrains every this many seconds; 0: only ``faust -A app train``.
    train_every: float = 6 * 3600.0

    # --- access: who may call what (app/web/auth.py) ---
    #: Bearer tokens of the admin scope (rules and items APIs, forget, any person's commands, raw state, id
    #: links; implies read), comma-separated so one can be rotated (add the new, move callers, drop the old).
    #: Secrets, environment only, 16+ characters each. Empty: the admin API refuses everyone.
    admin_tokens: tuple[str, ...] = field(default=(), repr=False)
    #: Bearer tokens of the read scope (any person's profile, recommendations and decision stream; stats), for
    #: a site's server-side rendering and for operators. Comma-separated (rotation). Empty: no read tokens.
    read_tokens: tuple[str, ...] = field(default=(), repr=False)
    #: The secret workers send each other when they forward a request; the internal routes (``/persons/..``,
    #: ``/ids/..``) take it or an admin token. The same on every worker; ``new,old`` during a rolling
    #: rotation (the first is sent). Empty: forwarding carries no credential, so set it whenever more than
    #: one worker runs.
    peer_tokens: tuple[str, ...] = field(default=(), repr=False)
    #: HMAC-SHA256 secrets shared with the site's server, which signs visitor tokens (tastemaker/access.py):
    #: the first signs (``faust -A app visitor-token``), any verifies (rotation). Empty: visitor tokens refused.
    visitor_secrets: tuple[str, ...] = field(default=(), repr=False)
    #: Visitor tokens expiring further ahead than this are refused, seconds (a day: what a leaked token can
    #: do ends with the visit, while a site can still issue one per page view or per session).
    visitor_token_ttl_max: int = 86400
    #: Decision streams (server-sent events) open at once on one worker, across all ids; past it 503 with
    #: Retry-After. Each holds a connection (a file descriptor) and a queue of up to 100 decisions: 10,000
    #: bounds both well below a raised descriptor limit (65,536), leaving room for Kafka and peers.
    max_streams: int = 10_000
    # --- limits: abuse and outage bounds (collector, streams, read timeouts) ---
    #: Seconds a stage (ingest, identity, person, timers, a topic follower) may have records waiting and
    #: finish none before ``/health`` answers 503 naming it (``stage:<name>``). 30 s: a healthy stage
    #: finishes a batch in well under a second and retries a refused send within one; 30 s is ten times
    #: Faust's offset commit interval (2.8 s) and three default session timeouts (10 s, within which a
    #: dead peer's partitions move). Rebalances and table recovery do not count (checks of their own).
    stall_after: float = 30.0
    #: Collector rate limit per write key (per source), ``RATE,BURST`` in events per second (a batch costs
    #: its number of messages), or ``off``. Per worker: N collecting workers allow N times this. 2000/s with
    #: a 10,000 burst is about twice the peak of a large shop (10,000 visitors at once, one event per 10 s
    #: each): a leaked key cannot bury the stream stages (~4,000 events/s per worker) for long, a real
    #: peak is not refused.
    rate_limit_per_key: Rate | None = Rate(2000.0, 10_000.0)
    #: Collector rate limit per client address (IPv6: per /64), ``RATE,BURST`` in events per second, or
    #: ``off``. A browser sends a few events a minute; 100/s with a 1,000 burst still passes a carrier-grade
    #: NAT with hundreds of visitors behind one address, and a server-side source's flushes of up to 1,000
    #: messages. Raise it (or turn it off) for a busy server-side source.
    rate_limit_per_client: Rate | None = Rate(100.0, 1_000.0)
    #: Proxies (load balancers) whose ``X-Forwarded-For`` is believed, comma-separated addresses or CIDR
    #: networks. Empty: none, the socket peer is the client (anyone can write that header).
    trusted_proxies: tuple[str, ...] = ()
    #: Seconds a client has to send a request's head (request line and headers), from the connection's
    #: start or from the first byte after an idle keep-alive gap; then 408 and the connection is closed.
    #: 10 s: a head is a few KB, which even a poor mobile link sends in a second or two (nginx allows 60 s,
    #: Go servers are usually given 5-10 s); slowloris clients hold a connection each while they trickle.
    header_timeout: float = 10.0
    #: Seconds a client has to send a request's body once its head arrived; then 408 with a JSON error.
    #: 30 s: the largest body (500 KB) at ~17 KB/s.
    body_timeout: float = 30.0
    #: Seconds an idle keep-alive connection is kept open (aiohttp's default is 3630). 75 s as nginx's:
    #: longer than a load balancer's usual idle timeout (60 s), so the balancer closes first and never
    #: sends a request into a connection the worker is closing.
    idle_timeout: float = 75.0
    #: Seconds the collector waits for Kafka to acknowledge a request's events before it answers 503 with
    #: Retry-After. A healthy broker acks in milliseconds and a leader election takes a few seconds; 5 s
    #: stays below Segment libraries' request timeouts (10-15 s), so clients see the 503 and retry instead
    #: of timing out. A 503'd event may still be stored later (the producer keeps retrying what it
    #: buffered): a client retrying with the same messageId is counted once (tastemaker/dedup.py).
    produce_timeout: float = 5.0
    # --- privacy: retention and forgetting ---
    #: How long the input topics, the stages' own topics (``<app_id>-events-by-id``, ``-events-by-person``)
    #: and the dead-letter topic keep records, seconds (7 days). They hold events as sent (ids, traits,
    #: context), which a forget does not rewrite: they age out within this plus one segment (a day). Seven
    #: days let a stage stopped over a long weekend catch up without losing what waited for it.
    event_retention: float = 7 * 86400.0
    #: How long ``personalization_decisions`` keeps decisions, seconds (1 day). Pages get them live (SSE)
    #: and subscribers within seconds; each carries the person's ids and the why of the decision.
    decisions_retention: float = 86400.0
    #: 1: at start, existing topics get the declared retention configuration (retention.ms, segment.ms,
    #: compaction lag) where theirs differs, each change logged (app/kafka_admin.py); a topic's cleanup
    #: policy is never changed. 0: existing topics are left as they are (for topics an operator manages).
    #: Default 1, so an upgraded deployment keeps the retention this version documents.
    update_topic_configs: bool = True

    @property
    def datadir(self) -> Path:
        return self.data_dir / self.app_id

    @property
    def canonical_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"

    @property
    def bootstrap_servers(self) -> list[str]:
        """The broker URL as aiokafka wants it: ``host:port`` items without the ``kafka://`` scheme."""
        servers = []
        for part in self.broker.replace(",", ";").split(";"):
            part = part.strip()
            if "://" in part:
                part = part.split("://", 1)[1]
            if part:
                servers.append(part)
        return servers

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def input_name(self, topic: str) -> str:
        """An input topic's name without the prefix (``shop.clickstream`` -> ``clickstream``)."""
        return topic[len(self.topic_prefix):] if topic.startswith(self.topic_prefix) else topic

    @property
    def access(self) -> AccessConfig:
        """The secrets of app/web/auth.py, checked (tastemaker/access.py)."""
        return AccessConfig(self.admin_tokens, self.read_tokens, self.peer_tokens, self.visitor_secrets,
                            self.visitor_token_ttl_max)

    @property
    def limits(self) -> Limits:
        return Limits(int(self.max_dwell * 1000), self.max_future, self.max_event_age)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        defaults = cls()

        def text(var: str, default: str) -> str:
            value = env.get(var, default).strip()
            if not value:
                raise SettingsError(f"{var} must not be empty")
            return value

        def number(var: str, default: float, kind: type, minimum: float) -> float:
            raw = env.get(var)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{var}={raw!r} is not a {kind.__name__}") from None
            if value < minimum:
                raise SettingsError(f"{var}={raw!r} must be at least {minimum}")
            return value

        store = text("TASTEMAKER_STORE", defaults.store)
        if store.split("://", 1)[0] not in ("rocksdb", "memory"):
            raise SettingsError(f"TASTEMAKER_STORE={store!r} must be rocksdb:// or memory://")
        roles = tuple(r.strip() for r in env.get("TASTEMAKER_ROLES", ",".join(defaults.roles)).split(",") if r.strip())
        if not roles or set(roles) - set(ROLES):
            raise SettingsError(f"TASTEMAKER_ROLES={','.join(roles)!r} must name one or more of {', '.join(ROLES)}")
        settings = cls(
            roles=roles,
            broker=text("TASTEMAKER_BROKER", defaults.broker),
            app_id=text("TASTEMAKER_APP_ID", defaults.app_id),
            topic_prefix=env.get("TASTEMAKER_TOPIC_PREFIX", defaults.topic_prefix).strip(),
            data_dir=Path(text("TASTEMAKER_DATA_DIR", str(defaults.data_dir))),
            store=store,
            partitions=number("TASTEMAKER_PARTITIONS", defaults.partitions, int, 1),
            replication=number("TASTEMAKER_REPLICATION", defaults.replication, int, 1),
            web_port=number("TASTEMAKER_WEB_PORT", defaults.web_port, int, 1),
            web_bind=text("TASTEMAKER_WEB_BIND", defaults.web_bind),
            web_host=text("TASTEMAKER_WEB_HOST", defaults.web_host),
            session_timeout=number("TASTEMAKER_SESSION_TIMEOUT", defaults.session_timeout, float, 1),
            write_keys=env.get("TASTEMAKER_WRITE_KEYS", ""),
            cors_origins=tuple(o.strip() for o in env.get("TASTEMAKER_CORS_ORIGINS", "").split(",") if o.strip()),
            event_routes=env.get("TASTEMAKER_EVENT_ROUTES", ""),
            dedup_window=number("TASTEMAKER_DEDUP_WINDOW", defaults.dedup_window, float, 1),
            max_ids_per_person=number("TASTEMAKER_MAX_IDS_PER_PERSON", defaults.max_ids_per_person, int, 1),
            bot_events_per_minute=number("TASTEMAKER_BOT_EVENTS_PER_MINUTE", defaults.bot_events_per_minute, int, 1),
            max_dwell=number("TASTEMAKER_MAX_DWELL", defaults.max_dwell, float, 1),
            max_future=number("TASTEMAKER_MAX_FUTURE", defaults.max_future, float, 0),
            max_event_age=number("TASTEMAKER_MAX_EVENT_AGE", defaults.max_event_age, float, 60),
            session_idle=number("TASTEMAKER_SESSION_IDLE", defaults.session_idle, float, 1),
            session_close_grace=number("TASTEMAKER_SESSION_CLOSE_GRACE", defaults.session_close_grace, float, 0),
            late_grace=number("TASTEMAKER_LATE_GRACE", defaults.late_grace, float, 0),
            fatigue_per_session=number("TASTEMAKER_FATIGUE_PER_SESSION", defaults.fatigue_per_session, int, 0),
            fatigue_per_day=number("TASTEMAKER_FATIGUE_PER_DAY", defaults.fatigue_per_day, int, 0),
            page_types=env.get("TASTEMAKER_PAGE_TYPES", ""),
            interactions_retention=number("TASTEMAKER_INTERACTIONS_RETENTION", defaults.interactions_retention,
                                          float, 3600),
            train_window=number("TASTEMAKER_TRAIN_WINDOW", defaults.train_window, float, 60),
            train_every=number("TASTEMAKER_TRAIN_EVERY", defaults.train_every, float, 0),
            # --- access ---
            admin_tokens=_secrets(env, "TASTEMAKER_ADMIN_TOKENS"),
            read_tokens=_secrets(env, "TASTEMAKER_READ_TOKENS"),
            peer_tokens=_secrets(env, "TASTEMAKER_PEER_TOKEN"),
            visitor_secrets=_secrets(env, "TASTEMAKER_VISITOR_SECRETS"),
            visitor_token_ttl_max=number("TASTEMAKER_VISITOR_TOKEN_TTL_MAX", defaults.visitor_token_ttl_max, int, 1),
            max_streams=number("TASTEMAKER_MAX_STREAMS", defaults.max_streams, int, 1),
            # --- limits ---
            stall_after=number("TASTEMAKER_STALL_AFTER", defaults.stall_after, float, 1),
            rate_limit_per_key=_rate(env, "TASTEMAKER_RATE_LIMIT_PER_KEY", defaults.rate_limit_per_key),
            rate_limit_per_client=_rate(env, "TASTEMAKER_RATE_LIMIT_PER_CLIENT", defaults.rate_limit_per_client),
            trusted_proxies=_networks(env, "TASTEMAKER_TRUSTED_PROXIES"),
            header_timeout=number("TASTEMAKER_HEADER_TIMEOUT", defaults.header_timeout, float, 0.1),
            body_timeout=number("TASTEMAKER_BODY_TIMEOUT", defaults.body_timeout, float, 0.1),
            idle_timeout=number("TASTEMAKER_IDLE_TIMEOUT", defaults.idle_timeout, float, 1),
            produce_timeout=number("TASTEMAKER_PRODUCE_TIMEOUT", defaults.produce_timeout, float, 0.1),
            # --- privacy ---
            event_retention=number("TASTEMAKER_EVENT_RETENTION", defaults.event_retention, float, 3600),
            decisions_retention=number("TASTEMAKER_DECISIONS_RETENTION", defaults.decisions_retention, float, 60),
            update_topic_configs=bool(number("TASTEMAKER_UPDATE_TOPIC_CONFIGS", int(defaults.update_topic_configs),
                                             int, 0)),
        )
        try:
            PageTypes.from_spec(settings.page_types)
        except ValueError as exc:
            raise SettingsError(f"TASTEMAKER_PAGE_TYPES: {exc}") from None
        try:
            parse_write_keys(settings.write_keys)
        except ValueError as exc:
            raise SettingsError(f"TASTEMAKER_WRITE_KEYS: {exc}") from None
        try:
            Router.from_spec(settings.event_routes)
        except RouteError as exc:
            raise SettingsError(f"TASTEMAKER_EVENT_ROUTES: {exc}") from None
        try:
            settings.access  # the same secret in two roles is refused
        except AccessError as exc:
            raise SettingsError(str(exc)) from None
        if not settings.bootstrap_servers:
            raise SettingsError(f"TASTEMAKER_BROKER={settings.broker!r} names no host:port")
        return settings
