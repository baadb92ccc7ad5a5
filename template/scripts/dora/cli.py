"""``uv run python -m scripts.dora``: print the DORA metrics, or record a deployment.

``report --log deployments.jsonl [--environment production] [--days 30] [--end TIME]
[--repo .] [--json]`` prints the four metrics with their bands; ``record --log FILE
--commit SHA --status success|failure [--environment production] [--time TIME]`` appends one
deployment to the log.
"""

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from .git import GitError, GitHistory
from .log import STATUSES, LogError, append_deployment, parse_line, parse_time, read_log
from .metrics import Metric, Report, compute

__all__ = ["main", "render_table"]

TITLES = {
    "deployment_frequency": "deployment frequency",
    "lead_time_for_changes": "lead time for changes",
    "change_failure_rate": "change failure rate",
    "time_to_restore_service": "time to restore service",
}


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _value(metric: Metric) -> str:
    if metric.value is None:
        return "n/a"
    if metric.unit == "per day":
        return f"{metric.value:.2f} per day"
    if metric.unit == "ratio":
        return f"{metric.value * 100:.1f} %"
    return _duration(metric.value)


def render_table(report: Report) -> str:
    """The report as a plain-text table (also valid Markdown, for CI job summaries)."""
    lines = [
        f"DORA metrics for {report.environment}: {report.deployments} deployments "
        f"from {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC",
        "",
        f"| {'metric':<24} | {'value':<14} | {'band':<6} | detail",
        f"| {'-' * 24} | {'-' * 14} | {'-' * 6} | ------",
    ]
    for metric in report.metrics:
        band = metric.band.value if metric.band else "n/a"
        lines.append(
            f"| {TITLES[metric.name]:<24} | {_value(metric):<14} | {band:<6} | {metric.detail}"
        )
    return "\n".join(lines)


def _time(value: str) -> datetime:
    try:
        return parse_time(value).astimezone(UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.dora",
        description="DORA metrics from the git history and the deployment log (JSON Lines).",
    )
    commands = parser.add_subparsers(dest="action", required=True)
    report = commands.add_parser("report", help="print the four metrics and their bands")
    report.add_argument("--log", type=Path, required=True, help="deployment log (JSON Lines)")
    report.add_argument("--environment", default="production")
    report.add_argument("--days", type=int, default=30, help="window length (default 30)")
    report.add_argument("--end", type=_time, default=None, help="window end (default: now)")
    report.add_argument("--repo", type=Path, default=Path(), help="git repository (default .)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    record = commands.add_parser("record", help="append one deployment to the log")
    record.add_argument("--log", type=Path, required=True)
    record.add_argument("--commit", required=True)
    record.add_argument("--status", choices=STATUSES, required=True)
    record.add_argument("--environment", default="production")
    record.add_argument("--time", type=_time, default=None, help="default: now")
    return parser


def main(argv: list[str]) -> int:
    """Run ``report`` or ``record``; errors go to stderr with exit status 2."""
    args = _parser().parse_args(argv)
    try:
        if args.action == "record":
            when = args.time or datetime.now(UTC)
            line = json.dumps(
                {
                    "time": when.isoformat(),
                    "commit": args.commit,
                    "environment": args.environment,
                    "status": args.status,
                }
            )
            written = append_deployment(args.log, parse_line(line, 0))
            print(written.to_json())
            return 0
        if args.days < 1:
            raise ValueError("--days must be at least 1")
        deployments = read_log(args.log)
        history = GitHistory(args.repo)
        report = compute(
            deployments,
            history.commit_times,
            environment=args.environment,
            end=args.end or datetime.now(UTC),
            days=args.days,
        )
    except (LogError, GitError, ValueError) as exc:
        print(f"dora: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2) if args.json else render_table(report))
    return 0
