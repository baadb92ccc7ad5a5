"""Readiness checks: async callables returning an optional detail, or raising to warn/fail."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Check", "CheckResult", "CheckWarning", "HealthRegistry", "Lifecycle"]

Check = Callable[[], Awaitable[Mapping[str, Any] | None]]


class CheckWarning(Exception):  # noqa: N818 - it is a result, not an error
    """A degraded dependency that must not fail readiness (an optional upstream's open breaker)."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one readiness check."""

    status: Literal["pass", "warn", "fail"]
    latency_ms: float
    error: str | None = None
    detail: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data; ``detail`` only when the check gave one."""
        data: dict[str, Any] = {"status": self.status, "latency_ms": self.latency_ms}
        data["error"] = self.error
        if self.detail is not None:
            data["detail"] = dict(self.detail)
        return data


@dataclass
class HealthRegistry:
    """Named readiness checks with per-check timeouts."""

    default_timeout: float = 2.0
    _checks: dict[str, tuple[Check, float]] = field(default_factory=dict)
    _listeners: list[Callable[[str, CheckResult], None]] = field(default_factory=list)

    def add_listener(self, listener: Callable[[str, CheckResult], None]) -> None:
        """Call ``listener(name, result)`` for every check result (e.g. to export metrics)."""
        self._listeners.append(listener)

    def register(self, name: str, check: Check, *, timeout: float | None = None) -> None:
        """Add the check ``name`` (replacing one of that name: a lifespan that runs again)."""
        self._checks[name] = (check, timeout or self.default_timeout)

    def names(self) -> list[str]:
        """Names of the registered checks, in registration order."""
        return list(self._checks)

    async def run(self) -> dict[str, CheckResult]:
        """Run every check concurrently and collect the results by name."""
        checks = dict(self._checks)
        results = await asyncio.gather(*(_run(*entry) for entry in checks.values()))
        report = dict(zip(checks, results, strict=True))
        for listener in self._listeners:
            for name, result in report.items():
                listener(name, result)
        return report


async def _run(check: Check, limit: float) -> CheckResult:
    started = time.perf_counter()
    status: Literal["pass", "warn", "fail"] = "pass"
    error: str | None = None
    detail: Mapping[str, Any] | None = None
    try:
        async with asyncio.timeout(limit):
            detail = await check()
    except CheckWarning as exc:
        status, error = "warn", str(exc)
    except TimeoutError:
        status, error = "fail", f"timed out after {limit:g}s"
    except Exception as exc:  # a failing dependency must never fail the probe itself
        status, error = "fail", type(exc).__name__ + (f": {str(exc)[:200]}" if str(exc) else "")
    return CheckResult(status, round((time.perf_counter() - started) * 1000, 3), error, detail)


@dataclass
class Lifecycle:
    """Process-wide serving state: readiness turns off as soon as shutdown begins."""

    shutting_down: bool = False

    def begin_shutdown(self) -> None:
        """Mark the service as draining; /readyz answers 503 from now on."""
        self.shutting_down = True
