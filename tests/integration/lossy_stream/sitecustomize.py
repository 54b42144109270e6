"""Put on PYTHONPATH of a worker to lose raw records on their way to the batch path, as a fetch
cut short could: each (partition, offset) listed in the JSON file named by ``CBSP_TEST_LOSE_FILE``
(``{"<partition>": [offsets]}``) is taken out of its fetched batch the first time it comes, and
nothing else is told of it."""

import json
import os
from pathlib import Path

from streams.rawbatches import RawBatches

LOSE_FILE = Path(os.environ["CBSP_TEST_LOSE_FILE"])
handle = RawBatches.handle
lost: set[tuple[int, int]] = set()


def lose(tp, records):  # type: ignore[no-untyped-def]
    if not LOSE_FILE.exists():
        return records
    wanted = json.loads(LOSE_FILE.read_text()).get(str(tp.partition), [])
    kept = []
    for record in records:
        spot = (tp.partition, record.offset)
        if record.offset in wanted and spot not in lost:
            lost.add(spot)
            print(f"lossy_stream: lost partition={spot[0]} offset={spot[1]}", flush=True)
        else:
            kept.append(record)
    return kept


async def losing_handle(self, consumer, tp, records):  # type: ignore[no-untyped-def]
    if ".callbacks.raw." in tp.topic:
        records = lose(tp, records)
        if not records:
            return
    await handle(self, consumer, tp, records)


RawBatches.handle = losing_handle
