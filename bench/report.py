"""Print the figures beside their baselines, and draw the plots (PNG) from a results dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def lines(results: dict[str, Any]) -> list[str]:
    out = []
    ingest = results.get("ingest")
    if ingest:
        gw, noop, perf = ingest["gateway"], ingest["noop"], ingest["producer_performance"]
        out += [
            f"gateway at saturation: {gw['saturation']['requests_per_s']:.0f} requests/s, "
            f"{gw['saturation']['callbacks_per_s']:.0f} callbacks/s",
            f"  no-op endpoint, same server: {noop['saturation']['requests_per_s']:.0f} requests/s "
            f"-> ratio {ingest['ratio_requests_vs_noop']:.2f} (target >= 0.7)",
            f"  Kafka ProducerPerformance acks=all: {perf['records_per_s']:.0f} records/s "
            f"-> ratio {ingest['ratio_callbacks_vs_producer_performance']:.2f}",
        ]
        for rate, shot in gw["rates"].items():
            base = noop["rates"].get(rate, {})
            out.append(
                f"  at {rate} req/s: p50 {shot['p50_ms']:.1f} ms, p95 {shot['p95_ms']:.1f} ms, "
                f"p99 {shot['p99_ms']:.1f} ms (no-op p99 {base.get('p99_ms', float('nan')):.1f} ms)"
            )
    stream = results.get("stream")
    if stream:
        one, two, plain = stream["one_worker"], stream["two_workers"], stream["plain_aiokafka_loop"]
        out.append(
            f"worker: {one.get('records_per_s', 0):.0f} records/s with one worker, "
            f"{two.get('records_per_s', 0):.0f} with two; plain aiokafka loop {plain['records_per_s']:.0f}/s"
        )
        if "ratio_one_worker_vs_plain" in stream:
            out.append(
                f"  ratio one worker / plain loop {stream['ratio_one_worker_vs_plain']:.2f} (target >= 0.5), "
                f"two / one {stream['scaling_two_vs_one']:.2f}"
            )
    e2e = results.get("e2e")
    if e2e:
        seen = e2e["visible_after_200"]
        out.append(
            f"end to end at {e2e['background_rate']} req/s background: 200 -> visible state "
            f"p50 {seen['p50_ms']:.0f} ms, p95 {seen['p95_ms']:.0f} ms, p99 {seen['p99_ms']:.0f} ms "
            f"({seen['visible']}/{seen['probes']} probes; target p99 < 250 ms)"
        )
    return out


def plots(results: dict[str, Any], directory: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    ingest = results.get("ingest")
    if ingest:
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        for name, data in (("gateway", ingest["gateway"]), ("no-op endpoint", ingest["noop"])):
            rates = sorted(data["rates"], key=float)
            for p, style in (("p50_ms", "-"), ("p99_ms", "--")):
                right.plot(
                    [float(r) for r in rates],
                    [data["rates"][r][p] for r in rates],
                    style,
                    marker="o",
                    label=f"{name} {p[:-3]}",
                )
        right.set_xlabel("requests/s (fixed rate)")
        right.set_ylabel("latency ms")
        right.legend()
        names = [
            "gateway\nrequests/s",
            "no-op\nrequests/s",
            "gateway\ncallbacks/s",
            "ProducerPerf\nrecords/s",
        ]
        values = [
            ingest["gateway"]["saturation"]["requests_per_s"],
            ingest["noop"]["saturation"]["requests_per_s"],
            ingest["gateway"]["saturation"]["callbacks_per_s"],
            ingest["producer_performance"]["records_per_s"],
        ]
        left.bar(names, values)
        left.set_title("ingest at saturation")
        path = directory / "ingest.png"
        figure.tight_layout()
        figure.savefig(path)
        written.append(path)
    stream = results.get("stream")
    if stream:
        figure, axis = plt.subplots(figsize=(6, 4))
        values = [
            stream["one_worker"].get("records_per_s", 0),
            stream["two_workers"].get("records_per_s", 0),
            stream["plain_aiokafka_loop"]["records_per_s"],
        ]
        axis.bar(["one worker", "two workers", "plain aiokafka loop"], values)
        axis.set_ylabel("records/s")
        axis.set_title("stream processing")
        path = directory / "stream.png"
        figure.tight_layout()
        figure.savefig(path)
        written.append(path)
    return written
