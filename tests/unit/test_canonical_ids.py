"""Event ids are uuid5 of the natural key, computed without the UUID object: the same strings."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from streams.canonical import EVENT_ID_NAMESPACE, event_id


@given(st.text(), st.text(), st.lists(st.text() | st.integers() | st.none(), max_size=4))
def test_event_ids_are_uuid5_of_the_natural_key(provider: str, kind: str, parts: list[object]) -> None:
    name = "|".join([provider, kind, *("" if part is None else str(part) for part in parts)])
    assert event_id(provider, kind, *parts) == str(uuid.uuid5(EVENT_ID_NAMESPACE, name))
