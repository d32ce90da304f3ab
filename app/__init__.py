"""The Tastemaker worker: ``faust -A app worker -l info``.

Importing this package declares the whole app (topics, tables, agents, web views, CLI commands), which is
what ``faust -A app`` needs to find them.
"""

from app.main import app, settings  # noqa: F401  (faust -A app looks up ``app.app``)
from app import topics  # noqa: F401,E402
from app import kafka_admin  # noqa: F401,E402  (registers the creation of every topic at start)
from agents import dead_letter  # noqa: F401,E402
from app.web import health, stats  # noqa: F401,E402
from app.web import openapi  # noqa: F401,E402  (GET /openapi.json, both roles)

if "collector" in settings.roles:
    from app.web import collector, tracker  # noqa: F401
if "stream" in settings.roles:
    from tables import identities, profiles, seen_messages, trending  # noqa: F401
    from app import catalog, model_store, rulebook, training  # noqa: F401
    from agents import ingest, stream_core, timers  # noqa: F401
    from app.web import decisions, items, profiles as profile_views, recommendations, rules  # noqa: F401
    from app.web import trending as trending_views  # noqa: F401
from app import commands  # noqa: F401,E402

__all__ = ["app", "settings"]
