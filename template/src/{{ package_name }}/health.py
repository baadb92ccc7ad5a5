"""Readiness checks: a small registry that features add their dependency checks to.

Each check is an async callable that returns on success and raises on failure. All checks run
concurrently, each under its own timeout, so one slow dependency cannot hide the others. A check
may return a mapping: it is reported as the check's ``detail`` (a passing check can say what
state its dependency is in without failing readiness).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CheckResult", "CheckWarning", "HealthRegistry", "Lifecycle", "ReadinessReport"]

Check = Callable[[], Awaitable[Mapping[str, Any] | None]]


class CheckWarning(Exception):  # noqa: N818 - it is a result, not an error
    """Raised by a check to report a degraded dependency that must not fail readiness.

    For example an optional upstream whose circuit breaker is open: the service still answers
    (from a fallback), so taking it out of the load balancer would only make things worse.
    """


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one readiness check."""

    status: Literal["pass", "warn", "fail"]
    latency_ms: float
    error: str | None = None
    detail: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data; ``detail`` only when the check gave one."""
        data = asdict(self)
        if self.detail is None:
            del data["detail"]
        else:
            data["detail"] = dict(self.detail)
        return data


@dataclass(frozen=True)
class ReadinessReport:
    """Results of every check; ready only when none of them failed (a warning is ready)."""

    checks: dict[str, CheckResult]

    @property
    def ready(self) -> bool:
        """True when no check failed (and trivially when none is registered)."""
        return all(result.status != "fail" for result in self.checks.values())

    @property
    def status(self) -> Literal["pass", "warn", "fail"]:
        """The worst status of any check."""
        statuses = {result.status for result in self.checks.values()}
        return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


@dataclass
class _Registered:
    check: Check
    timeout: float


@dataclass
class HealthRegistry:
    """Named readiness checks with per-check timeouts."""

    default_timeout: float = 2.0
    _checks: dict[str, _Registered] = field(default_factory=dict)
    _listeners: list[Callable[[str, CheckResult], None]] = field(default_factory=list)

    def add_listener(self, listener: Callable[[str, CheckResult], None]) -> None:
        """Call ``listener(name, result)`` for every check result (e.g. to export metrics)."""
        self._listeners.append(listener)

    def register(self, name: str, check: Check, *, timeout: float | None = None) -> None:
        """Add a check; a name can be registered once."""
        if name in self._checks:
            raise ValueError(f"readiness check {name!r} is already registered")
        self._checks[name] = _Registered(check, timeout or self.default_timeout)

    def unregister(self, name: str) -> None:
        """Remove a check (a resource closed by the lifespan); unknown names are ignored."""
        self._checks.pop(name, None)

    def names(self) -> list[str]:
        """Names of the registered checks, in registration order."""
        return list(self._checks)

    async def run(self) -> ReadinessReport:
        """Run every check concurrently and collect the results."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run_one(self._checks[n]) for n in names))
        report = ReadinessReport(dict(zip(names, results, strict=True)))
        for listener in self._listeners:
            for name, result in report.checks.items():
                listener(name, result)
        return report

    @staticmethod
    async def _run_one(registered: _Registered) -> CheckResult:
        started = time.perf_counter()
        error: str | None = None
        warning: str | None = None
        detail: Mapping[str, Any] | None = None
        try:
            async with asyncio.timeout(registered.timeout):
                detail = await registered.check()
        except CheckWarning as exc:
            warning = str(exc)
        except TimeoutError:
            error = f"timed out after {registered.timeout:g}s"
        except Exception as exc:  # a failing dependency must never fail the probe itself
            error = type(exc).__name__ + (f": {str(exc)[:200]}" if str(exc) else "")
        latency = round((time.perf_counter() - started) * 1000, 3)
        if warning is not None:
            return CheckResult("warn", latency, warning, detail)
        return CheckResult("fail" if error else "pass", latency, error, detail)


@dataclass
class Lifecycle:
    """Process-wide serving state: readiness turns off as soon as shutdown begins."""

    shutting_down: bool = False

    def begin_shutdown(self) -> None:
        """Mark the service as draining; /readyz answers 503 from now on."""
        self.shutting_down = True
