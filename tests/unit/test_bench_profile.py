"""The py-spy profile summary of `python -m bench --profile`."""

from __future__ import annotations

from bench.profile import tally


def test_own_and_inclusive_samples_are_counted_per_function() -> None:
    lines = [
        "main (w.py:1);handle (a.py:5);encode (c.py:9) 30",
        "main (w.py:1);handle (a.py:5) 10",
        "main (w.py:1);poll (k.py:2) 60",
        "not a profile line",
    ]
    total, own, inclusive = tally(lines)
    assert total == 100
    assert own["encode (c.py:9)"] == 30
    assert own["handle (a.py:5)"] == 10
    assert inclusive["handle (a.py:5)"] == 40
    assert inclusive["main (w.py:1)"] == 100
