"""The Tastemaker worker: ``faust -A app worker -l info``.

Importing this package declares the whole app (topics, tables, agents, web views, CLI commands), which is
what ``faust -A app`` needs to find them.
"""

from app.main import app, settings  # noqa: F401  (faust -A app looks up ``app.app``)
from app import topics  # noqa: F401,E402
from tables import identities, profiles, seen_messages  # noqa: F401,E402
from agents import dead_letter, ingest, identity, person  # noqa: F401,E402
from app.web import collector, health, profiles, stats, tracker  # noqa: F401,E402
from app import commands  # noqa: F401,E402

__all__ = ["app", "settings"]
