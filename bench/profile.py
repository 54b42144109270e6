"""`python -m bench.profile FILE [N]`: the functions a py-spy profile (collapsed stacks, as
`python -m bench --profile` records them) spends its samples in: the top N by own time and by
time including their callees."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def tally(lines: list[str]) -> tuple[int, Counter[str], Counter[str]]:
    """Samples in all, per function (own), per function (including callees)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return total, own, inclusive


def main() -> int:
    path, top = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25
    total, own, inclusive = tally(path.read_text().splitlines())
    if not total:
        print(f"{path}: no samples")
        return 1
    print(f"{path}: {total} samples")
    for title, counts in (("own time", own), ("including callees", inclusive)):
        print(f"\n{title}:")
        for frame, samples in counts.most_common(top):
            print(f"  {samples / total:6.1%}  {frame}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
