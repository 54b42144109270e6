"""Put on PYTHONPATH of a worker to lose raw records on their way to the agent, as a rebalance
can: each (partition, offset) listed in the JSON file named by ``CBSP_TEST_LOSE_FILE``
(``{"<partition>": [offsets]}``) is dropped unprocessed the first time it is taken, exactly as
``streams.eos`` drops an event taken before a rebalance, but with no rebalance to read it again."""

import json
import os
from pathlib import Path

from streams import eos

LOSE_FILE = Path(os.environ["CBSP_TEST_LOSE_FILE"])
current = eos._current
lost: set[tuple[int, int]] = set()


def losing(event):  # type: ignore[no-untyped-def]
    message = event.message
    if ".callbacks.raw." in message.topic and LOSE_FILE.exists():
        wanted = json.loads(LOSE_FILE.read_text()).get(str(message.partition), [])
        spot = (message.partition, message.offset)
        if message.offset in wanted and spot not in lost:
            lost.add(spot)
            print(f"lossy_stream: lost partition={spot[0]} offset={spot[1]}", flush=True)
            return False
    return current(event)


eos._current = losing
