import pytest

from tastemaker.identity import raw_user_key


@pytest.mark.parametrize(
    "event, key",
    [
        ({"userId": "u1", "anonymousId": "a1"}, "u1"),
        ({"anonymousId": "a1"}, "a1"),
        ({"userId": "", "anonymousId": "a1"}, "a1"),
        ({"userId": "  u2 "}, "u2"),
        ({"userId": 42}, "42"),
        ({"userId": True, "anonymousId": "a3"}, "a3"),
        ({"userId": None}, None),
        ({"type": "page"}, None),
        ([1, 2], None),
        (None, None),
    ],
)
def test_raw_user_key(event, key):
    assert raw_user_key(event) == key
