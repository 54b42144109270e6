"""`make bench`: throughput, latency, recovery and memory, each beside a baseline measured in
the same run on the same broker, printed and saved (bench-results/). Not part of the package."""
