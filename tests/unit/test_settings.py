import re
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError


def test_defaults_run_one_local_worker():
    s = Settings.from_env({})
    assert s.broker == "kafka://127.0.0.1:9092"
    assert s.bootstrap_servers == ["127.0.0.1:9092"]
    assert s.partitions == 8 and s.replication == 1
    assert s.datadir == Path("var/data/tastemaker")
    assert s.canonical_url == "http://127.0.0.1:6066"
    assert s.topic("clickstream") == "clickstream"


def test_values_from_the_environment():
    s = Settings.from_env(
        {
            "TASTEMAKER_BROKER": "kafka://k1:9092;kafka://k2:9093",
            "TASTEMAKER_APP_ID": "shop",
            "TASTEMAKER_TOPIC_PREFIX": "eu.",
            "TASTEMAKER_PARTITIONS": "16",
            "TASTEMAKER_WEB_HOST": "worker-2",
            "TASTEMAKER_WEB_PORT": "7000",
            "TASTEMAKER_SESSION_TIMEOUT": "4.5",
        }
    )
    assert s.bootstrap_servers == ["k1:9092", "k2:9093"]
    assert s.topic("clickstream") == "eu.clickstream"
    assert s.partitions == 16
    assert s.canonical_url == "http://worker-2:7000"
    assert s.session_timeout == 4.5
    assert s.datadir == Path("var/data/shop")


@pytest.mark.parametrize(
    "var, value, message",
    [
        ("TASTEMAKER_PARTITIONS", "eight", "TASTEMAKER_PARTITIONS='eight' is not a int"),
        ("TASTEMAKER_PARTITIONS", "0", "must be at least 1"),
        ("TASTEMAKER_STORE", "redis://", "must be rocksdb:// or memory://"),
        ("TASTEMAKER_BROKER", " ", "TASTEMAKER_BROKER must not be empty"),
        ("TASTEMAKER_BROKER", "kafka://", "names no host:port"),
    ],
)
def test_bad_values_name_the_variable(var, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({var: value})


def test_roles_default_to_both_and_refuse_unknown_names():
    assert Settings.from_env({}).roles == ("collector", "stream")
    assert Settings.from_env({"TASTEMAKER_ROLES": " stream "}).roles == ("stream",)
    with pytest.raises(SettingsError, match="TASTEMAKER_ROLES"):
        Settings.from_env({"TASTEMAKER_ROLES": "collector,ranker"})
    with pytest.raises(SettingsError, match="TASTEMAKER_ROLES"):
        Settings.from_env({"TASTEMAKER_ROLES": ","})


ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
# What reads the variables configuration.md lists that the worker does not: make run, the local broker, the
# test session and make fuzz. Each such row must be read by one of them, with the documented default.
OUTSIDE_THE_WORKER = [ROOT / "scripts" / "run.sh", ROOT / "infra" / "kafka" / "kafka.sh", ROOT / "Makefile",
                      ROOT / "tests" / "support" / "kafka.py", ROOT / "tests" / "integration" / "test_fuzz.py"]
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|", re.M)


def _settings_read() -> set[str]:
    read = set(re.findall(r'"(TASTEMAKER_[A-Z_]+)"', (ROOT / "app" / "settings.py").read_text()))
    assert len(read) > 40, "the pattern no longer matches app/settings.py"
    return read


def _rows(page: Path) -> list[tuple[str, str]]:
    return [(var, default.strip()) for var, default in ROW.findall(page.read_text())]


def _check_default(var: str, default: str) -> None:
    """The documented default is the code's: setting the variable to it changes nothing."""
    defaults = Settings.from_env({})
    if default == "(refused)":  # a variable of earlier versions: setting it stops the worker
        with pytest.raises(SettingsError, match=var):
            Settings.from_env({var: "an-old-admin-token-x"})
        return
    value = re.match(r"`([^`]*)`", default)
    if value is None:
        assert default.startswith("(empty"), f"{var}: a default the test cannot read: {default!r}"
        documented = ""
    else:
        documented = value.group(1)
    assert Settings.from_env({var: documented}) == defaults, f"{var}: documented default {default!r} is not the code's"


def test_configuration_lists_every_setting_once_with_its_default():
    """docs/configuration.md has one row for each TASTEMAKER_* variable app/settings.py reads, nothing else
    the worker would not read, and each row's default is the code's."""
    read = _settings_read()
    rows = _rows(CONFIGURATION)
    names = [var for var, _ in rows]
    assert sorted({n for n in names if names.count(n) > 1}) == [], "a variable listed twice"
    assert read - set(names) == set(), "settings the configuration page does not list"
    for var, default in rows:
        if var in read:
            _check_default(var, default)
            continue
        readers = [p for p in OUTSIDE_THE_WORKER if var in p.read_text()]
        assert readers, f"{var} is listed but nothing reads it"
        value = re.match(r"`([^`]*)`", default)
        if value is not None:  # the documented default is the one its reader falls back to
            fallbacks = [rf"\$\{{{var}:-{re.escape(value.group(1))}\}}", rf"{var} \?= {re.escape(value.group(1))}\b",
                         rf"\"{var}\", \"{re.escape(value.group(1))}\""]
            assert any(re.search(f, p.read_text()) for p in readers for f in fallbacks), \
                f"{var}: default {default!r} is not the one {[str(p.relative_to(ROOT)) for p in readers]} uses"
        else:
            assert default.startswith("(empty"), f"{var}: a default the test cannot read: {default!r}"


def test_every_settings_table_in_the_docs_agrees_with_the_code():
    """Other pages may repeat a setting (docs/security.md lists the access, limit and retention ones): their
    defaults must be the code's too, and they may name no variable the worker does not read."""
    read = _settings_read()
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        if page == CONFIGURATION:
            continue
        for var, default in _rows(page):
            if var.startswith("TASTEMAKER_"):
                assert var in read, f"{page.name}: {var} is not a setting"
                _check_default(var, default)
