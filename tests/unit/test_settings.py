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


def test_every_variable_the_settings_read_is_documented():
    """Each TASTEMAKER_* variable app/settings.py reads has a row in the README's configuration table or in
    a docs/ page (docs/security.md holds access, limits and retention)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'"(TASTEMAKER_[A-Z_]+)"', (root / "app" / "settings.py").read_text()))
    documented = (root / "README.md").read_text() + "".join(p.read_text() for p in (root / "docs").glob("*.md"))
    rows = set(re.findall(r"^\| `(TASTEMAKER_[A-Z_]+)`", documented, re.M))
    assert read, "no variable found: the pattern no longer matches app/settings.py"
    assert read - rows == set()
