"""Put on PYTHONPATH of a worker to replay what a rebalance does to a partition fetched while the
flow is stopped: while the file named by ``CBSP_TEST_LATE_FLOW_FILE`` exists, the first batch of
each raw partition reaches the batch path as it would before the flow resumed (dropped,
unprocessed, the fetch position already after it), and then Faust's seek to the committed
offsets runs, as the flow's resumption runs it (``Recovery._resume_streams``)."""

import os
from pathlib import Path

from streams.rawbatches import RawBatches

FLAG = Path(os.environ["CBSP_TEST_LATE_FLOW_FILE"])
handle = RawBatches.handle
dropped: set[tuple[str, int]] = set()


async def late_flow_handle(self, consumer, tp, records):  # type: ignore[no-untyped-def]
    if FLAG.exists() and ".callbacks.raw." in tp.topic and (tp.topic, tp.partition) not in dropped:
        dropped.add((tp.topic, tp.partition))
        print(
            f"late_flow: dropped topic={tp.topic} partition={tp.partition} "
            f"offsets={records[0].offset}-{records[-1].offset}",
            flush=True,
        )
        await consumer.perform_seek()
        return
    await handle(self, consumer, tp, records)


RawBatches.handle = late_flow_handle
