"""The four DORA metrics and their performance bands.

Bands follow the DORA research programme's published clusters (State of DevOps 2023), made
into contiguous ranges so every value falls in exactly one band.
"""

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .log import Deployment, LogError

__all__ = ["Band", "Metric", "Report", "compute"]

DAY = 86400.0
HOUR = 3600.0


class Band(StrEnum):
    """DORA performance bands, best first."""

    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def frequency_band(per_day: float) -> Band:
    """On demand (daily or more), daily to weekly, weekly to monthly, less than monthly."""
    if per_day >= 1:
        return Band.ELITE
    if per_day >= 1 / 7:
        return Band.HIGH
    if per_day >= 1 / 30:
        return Band.MEDIUM
    return Band.LOW


def lead_time_band(seconds: float) -> Band:
    """Under a day, under a week, under a month, longer."""
    return _duration_band(seconds, (DAY, 7 * DAY, 30 * DAY))


def restore_band(seconds: float) -> Band:
    """Under an hour, under a day, under a week, longer."""
    return _duration_band(seconds, (HOUR, DAY, 7 * DAY))


def failure_rate_band(rate: float) -> Band:
    """Up to 5 %, up to 10 %, up to 15 %, more."""
    for band, limit in ((Band.ELITE, 0.05), (Band.HIGH, 0.10), (Band.MEDIUM, 0.15)):
        if rate <= limit:
            return band
    return Band.LOW


def _duration_band(value: float, limits: tuple[float, float, float]) -> Band:
    for band, limit in zip((Band.ELITE, Band.HIGH, Band.MEDIUM), limits, strict=True):
        if value < limit:
            return band
    return Band.LOW


@dataclass(frozen=True)
class Metric:
    """One metric: its value (None when there is nothing to measure), unit and band."""

    name: str
    value: float | None
    unit: str
    band: Band | None
    detail: str = ""


@dataclass(frozen=True)
class Report:
    """The four metrics for one environment over one window."""

    environment: str
    start: datetime
    end: datetime
    deployments: int
    metrics: tuple[Metric, ...]

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "environment": self.environment,
            "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "deployments": self.deployments,
            "metrics": {
                m.name: {"value": m.value, "unit": m.unit, "band": m.band, "detail": m.detail}
                for m in self.metrics
            },
        }


# Commit times of the commits a deployment shipped: (deployed commit, previous one or None).
CommitTimes = Callable[[str, str | None], dict[str, datetime]]


def compute(
    deployments: Iterable[Deployment],
    commit_times: CommitTimes,
    *,
    environment: str,
    end: datetime,
    days: int,
) -> Report:
    """The four metrics for deployments to ``environment`` in the ``days`` before ``end``."""
    start = end - timedelta(days=days)
    history = sorted((d for d in deployments if d.environment == environment), key=lambda d: d.time)
    window = [d for d in history if start <= d.time <= end]

    # Lead time: each commit counts once, from its commit time to the first deployment of it.
    lead_times: list[float] = []
    previous: str | None = None
    for deployment in history:
        if deployment.time > end:
            break
        try:
            shipped = commit_times(deployment.commit, previous)
        except LookupError as exc:
            raise LogError(f"deployment log line {deployment.line}: {exc}") from None
        if deployment.time >= start:
            lead_times.extend(
                max(0.0, (deployment.time - committed).total_seconds())
                for committed in shipped.values()
            )
        previous = deployment.commit

    # Time to restore: from each failure to the next ``restored`` deployment.
    restores: list[float] = []
    unresolved = ""
    failed_at: datetime | None = None
    for deployment in history:
        if deployment.time > end:
            break
        if deployment.status == "failure" and failed_at is None:
            failed_at = deployment.time
        elif deployment.status == "restored" and failed_at is not None:
            if deployment.time >= start:
                restores.append((deployment.time - failed_at).total_seconds())
            failed_at = None
    if failed_at is not None:
        unresolved = ", 1 failure not restored yet"

    failures = sum(1 for d in window if d.status == "failure")
    per_day = len(window) / days
    rate = failures / len(window) if window else None
    lead = statistics.median(lead_times) if lead_times else None
    restore = statistics.median(restores) if restores else None
    metrics = (
        Metric(
            "deployment_frequency",
            per_day,
            "per day",
            frequency_band(per_day),
            f"{len(window)} in {days} days",
        ),
        Metric(
            "lead_time_for_changes",
            lead,
            "seconds",
            lead_time_band(lead) if lead is not None else None,
            f"median of {len(lead_times)} commits",
        ),
        Metric(
            "change_failure_rate",
            rate,
            "ratio",
            failure_rate_band(rate) if rate is not None else None,
            f"{failures} of {len(window)} deployments",
        ),
        Metric(
            "time_to_restore_service",
            restore,
            "seconds",
            restore_band(restore) if restore is not None else None,
            f"median of {len(restores)} restores{unresolved}",
        ),
    )
    return Report(environment, start, end, len(window), metrics)
