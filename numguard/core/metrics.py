"""Serving /metrics for the long-running commands, and the build info they all export."""

from __future__ import annotations

import argparse
import logging
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import REGISTRY, Info, start_http_server

log = logging.getLogger(__name__)


def package_version() -> str:
    try:
        return version("numguard")
    except PackageNotFoundError:
        return "unknown"


def add_metrics_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("metrics")
    group.add_argument(
        "--metrics-port", type=int, metavar="PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (default: not served)",
    )  # fmt: skip
    group.add_argument(
        "--metrics-host", default="127.0.0.1", metavar="HOST",
        help="address for /metrics (default 127.0.0.1; 0.0.0.0 in a container)",
    )  # fmt: skip


def serve_metrics(args: argparse.Namespace, command: str) -> None:
    """Start the /metrics server when --metrics-port is given."""
    if args.metrics_port is None:
        return
    Info("numguard_build", "numguard's version and the command running", registry=REGISTRY).info(
        {"version": package_version(), "command": command}
    )
    start_http_server(args.metrics_port, addr=args.metrics_host)
    log.info("metrics at http://%s:%d/metrics", args.metrics_host, args.metrics_port)
