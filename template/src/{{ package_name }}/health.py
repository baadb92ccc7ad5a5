"""Readiness checks: a small registry that features add their dependency checks to.

Each check is an async callable that returns on success and raises on failure. All checks run
concurrently, each under its own timeout, so one slow dependency cannot hide the others.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CheckResult", "HealthRegistry", "Lifecycle", "ReadinessReport"]

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one readiness check."""

    status: Literal["pass", "fail"]
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True)
class ReadinessReport:
    """Results of every check; ready only when all of them passed."""

    checks: dict[str, CheckResult]

    @property
    def ready(self) -> bool:
        """True when every check passed (and trivially when none is registered)."""
        return all(result.status == "pass" for result in self.checks.values())


@dataclass
class _Registered:
    check: Check
    timeout: float


@dataclass
class HealthRegistry:
    """Named readiness checks with per-check timeouts."""

    default_timeout: float = 2.0
    _checks: dict[str, _Registered] = field(default_factory=dict)

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
        return ReadinessReport(dict(zip(names, results, strict=True)))

    @staticmethod
    async def _run_one(registered: _Registered) -> CheckResult:
        started = time.perf_counter()
        error: str | None = None
        try:
            async with asyncio.timeout(registered.timeout):
                await registered.check()
        except TimeoutError:
            error = f"timed out after {registered.timeout:g}s"
        except Exception as exc:  # a failing dependency must never fail the probe itself
            error = type(exc).__name__ + (f": {str(exc)[:200]}" if str(exc) else "")
        latency = round((time.perf_counter() - started) * 1000, 3)
        return CheckResult("fail" if error else "pass", latency, error)


@dataclass
class Lifecycle:
    """Process-wide serving state: readiness turns off as soon as shutdown begins."""

    shutting_down: bool = False

    def begin_shutdown(self) -> None:
        """Mark the service as draining; /readyz answers 503 from now on."""
        self.shutting_down = True
