"""Feature flags: OpenFeature set up in the lifespan; a bad source degrades, never stops it."""

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import Request
from openfeature import api
from openfeature.contrib.hook.opentelemetry import TracingHook
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.provider import FeatureProvider, ProviderStatus
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

from .settings import Settings

logger = structlog.get_logger(__name__)

_STALE = ProviderEvent.PROVIDER_STALE


class Flags:
    """The service's one OpenFeature set-up: start it in the lifespan, stop it on exit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.memory_flags: dict[str, InMemoryFlag[Any]] = {}
        self.client = api.get_client()
        self._provider: FeatureProvider | None = None
        self._lock = threading.Lock()
        self._reported = ProviderStatus.NOT_READY
        self._message: str | None = None
        self._starting = False
        self.source = {
            "file": f"file:{settings.flags_file}",
            "flagd": f"flagd:{settings.flags_host}:{settings.flags_port}",
        }.get(settings.flags_provider, "memory")

    async def start(self) -> None:
        """Register the provider and wait for its first flags (never raises)."""
        api.add_hooks([TracingHook()])  # each evaluation becomes an event on the current span
        attributes = {"service": self.settings.service_name, "environment": self.settings.app_env}
        api.set_evaluation_context(EvaluationContext(attributes=attributes))
        self._provider = self._build_provider()
        for event in (ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_ERROR, _STALE):
            api.add_handler(event, self._on_event)
        self._starting = True  # the outcome of the first load is reported below, once
        try:
            await asyncio.to_thread(api.set_provider_and_wait, self._provider)
        except Exception as exc:  # a bad source degrades the flags, never the service
            self._report(ProviderStatus.ERROR, _describe(exc))
        else:
            self._report(self.client.get_provider_status(), None)
        finally:
            self._starting = False
        logger.info("flags.started", source=self.source, status=self._status().value)

    async def stop(self) -> None:
        """Shut the provider down and forget every handler, hook and context."""
        await asyncio.to_thread(api.shutdown)
        self._provider = None

    def _status(self) -> ProviderStatus:
        return self.client.get_provider_status() if self._provider else ProviderStatus.NOT_READY

    async def check(self) -> Mapping[str, Any]:
        """Readiness detail: the provider's state; flags never fail readiness."""
        status = self._status()
        detail: dict[str, Any] = {"provider": self.source, "state": status.value}
        if status != ProviderStatus.READY and self._message:
            detail["message"] = self._message
        return detail

    def _build_provider(self) -> FeatureProvider:
        settings = self.settings
        if settings.flags_provider == "memory":
            return InMemoryProvider(self.memory_flags)
        if settings.flags_provider == "file":
            from .flag_file import FlagFileProvider

            return FlagFileProvider(settings.flags_file, settings.flags_poll_interval)
        from openfeature.contrib.provider.flagd import FlagdProvider
        from openfeature.contrib.provider.flagd.config import ResolverType

        return FlagdProvider(
            resolver_type=ResolverType.RPC,
            host=settings.flags_host,
            port=settings.flags_port,
            tls=settings.flags_tls,
            deadline_ms=max(1, round(settings.flags_timeout * 1000)),
        )

    def _on_event(self, details: EventDetails) -> None:
        provider = self._provider
        if self._starting or provider is None:
            return
        if details.provider_name == provider.get_metadata().name:
            self._report(self.client.get_provider_status(), details.message)

    def _report(self, status: ProviderStatus, message: str | None) -> None:
        """Log a change of the provider's state once, however often the provider repeats it."""
        with self._lock:
            previous, self._reported = self._reported, status
            if status == previous:
                return
            self._message = message
        if status != ProviderStatus.READY:
            logger.warning(
                "flags.provider_unavailable",
                source=self.source,
                status=status.value,
                reason=message,
                consequence="flags keep their last good values, else the defaults in the code",
            )
        elif previous != ProviderStatus.NOT_READY:
            logger.info("flags.provider_recovered", source=self.source)


def _describe(exc: BaseException) -> str:
    """A one-line reason, following the chain to the cause the provider wrapped."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {str(exc) or type(exc).__name__}"[:300]


def evaluation_context(request: Request) -> EvaluationContext:
    """The evaluation context of one request: targeting key and attributes from headers."""
    settings: Settings = request.app.state.settings
    attributes: dict[str, Any] = {"method": request.method, "path": request.url.path}
    for header, attribute in settings.flags_context_headers.items():
        if (value := request.headers.get(header)) is not None:
            attributes[attribute] = value
    targeting_key = request.headers.get(settings.flags_targeting_header)
    return EvaluationContext(targeting_key=targeting_key, attributes=attributes)


class BooleanFlag:
    """A dependency giving one boolean flag for the request; ``default`` when unevaluable."""

    def __init__(self, key: str, *, default: bool) -> None:
        self.key = key
        self.default = default

    async def __call__(self, request: Request) -> bool:
        """Evaluate the flag for this request."""
        flags: Flags = request.app.state.flags
        context = evaluation_context(request)
        return await flags.client.get_boolean_value_async(self.key, self.default, context)
