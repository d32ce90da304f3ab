"""What a user agent string says about the client: a bot or not, and the device type.

Bots: ``crawlerdetect`` (CrawlerDetect's pattern list: search and social crawlers, monitoring, headless
browsers, HTTP libraries). Device type: ``user-agents`` (uap-core's regexes). Each costs up to a millisecond
on a first sight of a string, and a site sees few distinct strings, so answers are cached per string.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from crawlerdetect import CrawlerDetect
from user_agents import parse as parse_user_agent

DESKTOP, MOBILE, TABLET, BOT, OTHER = "desktop", "mobile", "tablet", "bot", "other"

_crawlers = CrawlerDetect()


@dataclass(frozen=True)
class ClientKind:
    device_type: str
    is_bot: bool


@lru_cache(maxsize=8192)
def classify(user_agent: str) -> ClientKind:
    if _crawlers.isCrawler(user_agent):
        return ClientKind(BOT, True)
    parsed = parse_user_agent(user_agent)
    if parsed.is_bot:
        return ClientKind(BOT, True)
    if parsed.is_tablet:
        return ClientKind(TABLET, False)
    if parsed.is_mobile:
        return ClientKind(MOBILE, False)
    if parsed.is_pc:
        return ClientKind(DESKTOP, False)
    return ClientKind(OTHER, False)


#: Segment's mobile libraries send ``context.device.type`` ("ios", "android") instead of a browser UA.
_DEVICE_TYPES = {"ios": MOBILE, "android": MOBILE, "ipados": TABLET, "tablet": TABLET, "mobile": MOBILE}


def device_type_of(device: object) -> str | None:
    if isinstance(device, dict) and isinstance(device.get("type"), str):
        return _DEVICE_TYPES.get(device["type"].lower(), OTHER)
    return None
