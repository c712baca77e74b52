"""The Grafana dashboard and compose Prometheus config: valid PromQL over real metric names."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = json.loads((ROOT / "monitoring/grafana/dashboards/numguard.json").read_text())
EXPRESSIONS = [t["expr"] for panel in DASHBOARD["panels"] for t in panel["targets"]]
SOURCE = "\n".join(
    path.read_text() for folder in ("numguard", "producer", "consumer")
    for path in (ROOT / folder).rglob("*.py")
)  # fmt: skip
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_info")


def defined(metric: str) -> bool:
    names = {metric, *(metric.removesuffix(s) for s in SUFFIXES if metric.endswith(s))}
    return any(f'"{name}"' in SOURCE for name in names)


def test_every_panel_expression_is_valid_promql(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:panel{i}", "expr": expr} for i, expr in enumerate(EXPRESSIONS)
    ]}]}  # fmt: skip
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_on_the_dashboard_and_in_the_alerts_is_one_the_code_exports() -> None:
    alerts = (ROOT / "monitoring/alerts.yml").read_text()
    used = set(re.findall(r"numguard_[a-z_]+", " ".join(EXPRESSIONS) + alerts))
    assert used
    assert sorted(m for m in used if not defined(m)) == []


def test_the_compose_prometheus_scrapes_the_ports_the_services_serve() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    scrape = yaml.safe_load((ROOT / "monitoring/prometheus.yml").read_text())
    for job in scrape["scrape_configs"]:
        (target,) = job["static_configs"][0]["targets"]
        service, port = target.split(":")
        command = " ".join(compose["services"][service]["command"])
        assert f"--metrics-port {port}" in command or f"--port {port}" in command, job
