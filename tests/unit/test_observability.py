"""The docker-compose profile "observability": Prometheus and Grafana config, alerts, dashboard.

No Docker here: the files are parsed and checked against each other, against the metric
names the code exports and against the runbook the alerts link to.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.markdown import github_anchors

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROFILE = "observability"

# Every metric the gateway and the workers export, from docs/metrics.md (which
# tests/unit/test_metrics_docs.py holds equal to the code): the dashboard and the alerts may
# use no other name.
METRIC_ROW = re.compile(r"^\| `(?P<name>cbsp_[a-z0-9_]+)` \| (?P<type>\w+) \|", re.M)
EXPORTED = {m["name"]: m["type"] for m in METRIC_ROW.finditer((ROOT / "docs" / "metrics.md").read_text())}
METRICS = sorted(EXPORTED)
HISTOGRAMS = [name for name, kind in EXPORTED.items() if kind == "histogram"]
HISTOGRAM_SERIES = {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_count", "_sum")}
METRIC_NAME = re.compile(r"\bcbsp_[a-z0-9_]+")

# what the issue asks the dashboard to show, as the metric each panel needs
DASHBOARD_MUST_USE = {
    "ingest rate by provider": "cbsp_gateway_callbacks_accepted_total",
    "HTTP error codes": "cbsp_gateway_http_requests_total",
    "produce latency p50/p99": "cbsp_gateway_produce_duration_seconds_bucket",
    "spool depth": "cbsp_gateway_spool_records",
    "spool oldest age": "cbsp_gateway_spool_oldest_age_seconds",
    "events by canonical status": "cbsp_worker_events_total",
    "consumer lag": "cbsp_worker_consumer_lag",
    "DLQ rate": "cbsp_worker_dead_letters_total",
}
# the conditions the runbook covers, as the anchor each alert links to
ALERT_ANCHORS = {
    "CbspGatewayOverloaded": "the-gateway-refuses-requests-overloaded",
    "CbspKafkaUnreachable": "kafka-unreachable",
    "CbspSpoolGrowing": "spool-growing",
    "CbspDeadLettersGrowing": "dlq-growing",
    "CbspConsumerLagGrowing": "consumer-lag-growing",
}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(ROOT / "docker-compose.yml")
    return loaded


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEPLOY / "grafana" / "dashboards" / "cbsp.json").read_text())
    return loaded


def dashboard_queries() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def metric_names(expression: str) -> set[str]:
    return set(METRIC_NAME.findall(expression))


def test_the_profile_adds_prometheus_and_grafana_with_pinned_images() -> None:
    services = compose()["services"]
    in_profile = {name for name, service in services.items() if PROFILE in service.get("profiles", [])}
    assert in_profile == {"prometheus", "grafana"}
    for name in in_profile:
        image, _, tag = services[name]["image"].partition(":")
        assert image in ("prom/prometheus", "grafana/grafana")
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: pin a version, not {tag!r}"
    assert all("profiles" not in services[name] for name in ("kafka", "gateway", "worker"))


def test_every_file_the_profile_mounts_is_in_the_repository() -> None:
    services = compose()["services"]
    mounts = [volume for name in ("prometheus", "grafana") for volume in services[name]["volumes"]]
    bind_sources = [mount.split(":")[0] for mount in mounts if mount.startswith("./")]
    assert bind_sources
    for source in bind_sources:
        assert (ROOT / source).is_dir(), source


def test_prometheus_scrapes_the_gateway_and_the_worker_where_compose_serves_them() -> None:
    services = compose()["services"]
    gateway_port = services["gateway"]["command"][-1].rsplit(":", 1)[1]
    worker = services["worker"]["environment"]
    command = services["worker"]["command"]
    processes = int(command[command.index("--processes") + 1])
    first_port = int(worker["CBSP_WORKER_WEB_PORT"])
    worker_targets = [f"{worker['CBSP_WORKER_WEB_HOST']}:{first_port + n}" for n in range(processes)]
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["gateway"]["static_configs"][0]["targets"] == [f"gateway:{gateway_port}"]
    assert jobs["worker"]["static_configs"][0]["targets"] == worker_targets  # each worker process
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in jobs.values())
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file(), rule_file


def test_alerts_and_dashboard_use_only_exported_metric_names() -> None:
    known = set(METRICS) | HISTOGRAM_SERIES
    expressions = [rule["expr"] for rule in alert_rules()] + dashboard_queries()
    for expression in expressions:
        used = metric_names(expression)
        assert used, f"no cbsp metric in {expression!r}"
        assert used <= known, f"unknown metric(s) {used - known} in {expression!r}"


def test_expressions_have_balanced_brackets() -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    for expression in [rule["expr"] for rule in alert_rules()] + dashboard_queries():
        stack: list[str] = []
        for char in re.sub(r'"[^"]*"', '""', expression):  # label values may hold anything
            if char in "([{":
                stack.append(char)
            elif char in pairs:
                assert stack and stack.pop() == pairs[char], expression
        assert not stack, expression


def test_the_dashboard_shows_what_an_operator_needs() -> None:
    used = set().union(*(metric_names(query) for query in dashboard_queries()))
    missing = {what: metric for what, metric in DASHBOARD_MUST_USE.items() if metric not in used}
    assert not missing


def test_the_dashboard_queries_the_provisioned_datasource() -> None:
    provisioned = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = provisioned["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    for panel in dashboard()["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "cbsp.yml")["providers"][0]
    mounts = dict(volume.split(":")[:2] for volume in compose()["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]


def test_every_alert_links_its_runbook_entry() -> None:
    anchors = github_anchors((ROOT / "docs" / "runbook.md").read_text())
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert set(rules) == set(ALERT_ANCHORS)
    for name, rule in rules.items():
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert path == "docs/runbook.md", name
        assert anchor == ALERT_ANCHORS[name], name
        assert anchor in anchors, f"{name}: no heading for #{anchor} in docs/runbook.md"
        assert rule["annotations"]["summary"], name
        assert rule["labels"]["severity"] in ("warning", "critical"), name
