"""Worker settings, read once from environment variables.

Every setting has a default that runs a single local worker against a local broker; the README's
configuration table lists the same names, defaults and meanings. A malformed value stops the worker at
start with a message naming the variable, instead of surfacing later as an obscure Kafka or Faust error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tastemaker.ingest.request_body import parse_write_keys
from tastemaker.ingest.routing import RouteError, Router
from tastemaker.ingest.sanity import Limits
from tastemaker.page_types import PageTypes


ROLES = ("collector", "stream")


class SettingsError(ValueError):
    """A configuration variable holds a value Tastemaker cannot use."""


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
    #: Bearer token of the admin API (rules). A secret: environment only. Empty: the admin API refuses all.
    admin_token: str = field(default="", repr=False)

    #: How long the interaction history (``<app_id>-interactions``) is kept in Kafka, seconds (30 days);
    #: the model is trained from it.
    interactions_retention: float = 30 * 24 * 3600.0
    #: Train on the last this many seconds of interactions (at most the retention).
    train_window: float = 30 * 24 * 3600.0
    #: The leader worker retrains every this many seconds; 0: only ``faust -A app train``.
    train_every: float = 6 * 3600.0

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
            admin_token=env.get("TASTEMAKER_ADMIN_TOKEN", ""),
            interactions_retention=number("TASTEMAKER_INTERACTIONS_RETENTION", defaults.interactions_retention,
                                          float, 3600),
            train_window=number("TASTEMAKER_TRAIN_WINDOW", defaults.train_window, float, 60),
            train_every=number("TASTEMAKER_TRAIN_EVERY", defaults.train_every, float, 0),
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
        if not settings.bootstrap_servers:
            raise SettingsError(f"TASTEMAKER_BROKER={settings.broker!r} names no host:port")
        return settings
