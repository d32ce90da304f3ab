"""Token buckets per key (tastemaker/ingest/rate_limit.py) and the client address they are keyed by
(tastemaker/ingest/client_address.py)."""

import pytest

from tastemaker.ingest.client_address import bucket_key, client_address, parse_networks
from tastemaker.ingest.rate_limit import BucketTable, Rate, RateSpecError, admit, retry_after_header


def test_a_bucket_spends_its_burst_then_refills_at_the_rate():
    table = BucketTable(Rate(per_second=10, burst=20))
    for _ in range(20):
        assert admit(100.0, 1, (table, "web")) == 0
    assert admit(100.0, 1, (table, "web")) == pytest.approx(0.1)  # one token comes back in 1/10 s
    assert admit(100.5, 5, (table, "web")) == 0  # half a second: five tokens
    assert admit(100.5, 1, (table, "web")) > 0
    assert table.tokens("web", 1000.0) == 20  # never more than the burst


def test_a_batch_costs_its_messages_and_one_larger_than_the_burst_needs_a_full_bucket():
    table = BucketTable(Rate(per_second=10, burst=100))
    assert admit(0.0, 60, (table, "app")) == 0
    assert admit(0.0, 250, (table, "app")) == pytest.approx(6.0)  # 60 missing for a full bucket, at 10/s
    assert admit(6.0, 250, (table, "app")) == 0  # admitted once full, and leaves the bucket in debt
    assert table.tokens("app", 6.0) == -150
    assert admit(6.0, 1, (table, "app")) == pytest.approx(15.1)  # the debt holds the average rate


def test_keys_have_buckets_of_their_own():
    table = BucketTable(Rate(per_second=1, burst=2))
    assert admit(0.0, 2, (table, "a")) == 0
    assert admit(0.0, 1, (table, "a")) > 0
    assert admit(0.0, 2, (table, "b")) == 0


def test_admit_charges_every_bucket_or_none():
    keys, clients = BucketTable(Rate(1, 100)), BucketTable(Rate(1, 5))
    assert admit(0.0, 3, (clients, "192.0.2.1")) == 0
    assert admit(0.0, 4, (keys, "web"), (clients, "192.0.2.1")) == pytest.approx(2.0)  # the client is short
    assert keys.tokens("web", 0.0) == 100 and clients.tokens("192.0.2.1", 0.0) == 2  # nothing charged
    assert admit(0.0, 2, (keys, "web"), (clients, "192.0.2.1")) == 0
    assert keys.tokens("web", 0.0) == 98 and clients.tokens("192.0.2.1", 0.0) == 0
    assert admit(0.0, 1, (None, "web")) == 0  # no table: no limit


def test_a_flood_of_new_keys_keeps_the_table_bounded_and_evicts_the_least_recently_used():
    table = BucketTable(Rate(1, 3), max_keys=100)
    admit(0.0, 3, (table, "regular"))
    for n in range(1000):
        admit(float(n) / 1000, 1, (table, f"203.0.113.{n}"))
        if n % 10 == 0:
            admit(float(n) / 1000, 0, (table, "regular"))  # still in use: kept
    assert len(table) == 100
    assert "regular" in table and "203.0.113.0" not in table and "203.0.113.999" in table
    assert table.tokens("regular", 1.0) < 3  # its debt was not forgotten


def test_wait_never_reserves_a_bucket():
    table = BucketTable(Rate(1, 3), max_keys=2)
    for n in range(10):
        table.wait(f"k{n}", 1, 0.0)
    assert len(table) == 0


@pytest.mark.parametrize(
    "spec, rate",
    [("2000,10000", Rate(2000, 10000)), (" 50 ", Rate(50, 250)), ("0.5,1", Rate(0.5, 1)), ("off", None), ("0", None)],
)
def test_rate_specs(spec, rate):
    assert Rate.from_spec(spec) == rate


@pytest.mark.parametrize("spec", ["fast", "10,20,30", "-1", "10,0", "nan", "inf,10"])
def test_bad_rate_specs_are_refused(spec):
    with pytest.raises(RateSpecError):
        Rate.from_spec(spec)


def test_retry_after_is_whole_seconds_rounded_up():
    assert [retry_after_header(s) for s in (0.0, 0.01, 1.0, 1.2, 14.9)] == ["1", "1", "1", "2", "15"]


PROXIES = parse_networks("10.0.0.0/8, 192.0.2.7, 2001:db8:ff::/48")


@pytest.mark.parametrize(
    "peer, forwarded, client",
    [
        # An untrusted peer: its X-Forwarded-For is whatever it wants to claim.
        ("198.51.100.4", ["1.2.3.4"], "198.51.100.4"),
        ("198.51.100.4", [], "198.51.100.4"),
        # Behind a trusted proxy: the right-most address that is not a trusted proxy.
        ("10.1.2.3", ["203.0.113.9"], "203.0.113.9"),
        ("10.1.2.3", ["1.2.3.4, 203.0.113.9"], "203.0.113.9"),  # 1.2.3.4 was written by the client itself
        ("10.1.2.3", ["1.2.3.4, 203.0.113.9, 10.9.9.9"], "203.0.113.9"),  # two proxies
        ("10.1.2.3", ["1.2.3.4", "203.0.113.9, 192.0.2.7"], "203.0.113.9"),  # several headers, in order
        ("10.1.2.3", ["203.0.113.9:51234"], "203.0.113.9"),  # a port
        ("10.1.2.3", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("2001:db8:ff::1", ["2001:db8::5"], "2001:db8::5"),
        ("10.1.2.3", ["10.4.4.4, 10.5.5.5"], "10.4.4.4"),  # every hop trusted: the first
        ("10.1.2.3", ["1.2.3.4, garbage, 10.5.5.5"], "10.5.5.5"),  # left of a broken entry nothing is believed
        ("10.1.2.3", [], "10.1.2.3"),  # the proxy itself is the client
        ("::ffff:10.1.2.3", ["203.0.113.9"], "203.0.113.9"),  # an IPv4 peer on a dual-stack socket
    ],
)
def test_client_address_believes_x_forwarded_for_only_from_trusted_proxies(peer, forwarded, client):
    assert client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address("10.1.2.3", ["203.0.113.9"], ()) == "10.1.2.3"
    assert client_address(None, ["203.0.113.9"], PROXIES) is None


def test_trusted_proxies_spec_is_checked():
    assert [str(n) for n in parse_networks(" 10.0.0.0/8 ,fd00::/8,192.0.2.7")] == ["10.0.0.0/8", "fd00::/8", "192.0.2.7/32"]
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_networks("10.0.0.0/8,10.0.0.300")


def test_ipv6_clients_share_a_bucket_per_64():
    assert bucket_key("2001:db8:1:2:aaaa::1") == bucket_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert bucket_key("2001:db8:1:3::1") != bucket_key("2001:db8:1:2::1")
    assert bucket_key("203.0.113.9") == "203.0.113.9"


def test_limit_settings_are_read_and_checked():
    from app.settings import Settings, SettingsError

    defaults = Settings.from_env({})
    assert defaults.rate_limit_per_key == Rate(2000, 10_000) and defaults.rate_limit_per_client == Rate(100, 1000)
    assert defaults.trusted_proxies == () and defaults.produce_timeout == 5.0
    s = Settings.from_env({
        "TASTEMAKER_RATE_LIMIT_PER_KEY": "off", "TASTEMAKER_RATE_LIMIT_PER_CLIENT": "20,200",
        "TASTEMAKER_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7", "TASTEMAKER_HEADER_TIMEOUT": "5",
        "TASTEMAKER_BODY_TIMEOUT": "12.5", "TASTEMAKER_IDLE_TIMEOUT": "120", "TASTEMAKER_PRODUCE_TIMEOUT": "2",
    })
    assert s.rate_limit_per_key is None and s.rate_limit_per_client == Rate(20, 200)
    assert s.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32")
    assert (s.header_timeout, s.body_timeout, s.idle_timeout, s.produce_timeout) == (5, 12.5, 120, 2)
    for var, value in [("TASTEMAKER_RATE_LIMIT_PER_KEY", "fast"), ("TASTEMAKER_TRUSTED_PROXIES", "10.0.0.0/33"),
                       ("TASTEMAKER_PRODUCE_TIMEOUT", "0"), ("TASTEMAKER_HEADER_TIMEOUT", "soon")]:
        with pytest.raises(SettingsError, match=var):
            Settings.from_env({var: value})
