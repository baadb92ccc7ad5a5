"""OpenTelemetry tracing from the standard ``OTEL_*`` variables, on the SDK's public API.

The SDK is imported only when tracing is on. Names the service cannot honour are refused at
start-up (``TracingConfigError``), where the SDK would log and carry on with a default.
"""

import contextlib
import os
from typing import TYPE_CHECKING

import structlog
from opentelemetry import trace

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "TracingConfigError",
    "configure_tracing",
    "instrument_httpx_client",
    "shutdown_tracing",
    "tracing_enabled",
]

logger = structlog.get_logger(__name__)

_SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)


class TracingConfigError(ValueError):
    """An ``OTEL_*`` variable has a value this service cannot honour."""


def tracing_enabled() -> bool:
    """False when ``OTEL_SDK_DISABLED=true`` (the spec's switch for the whole SDK)."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def _check_sampler() -> None:
    """Refuse a sampler name or ratio the SDK would replace by its default with a warning."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if name and name not in _SAMPLERS:
        known = ", ".join(sorted(_SAMPLERS))
        raise TracingConfigError(f"OTEL_TRACES_SAMPLER={name!r} is not supported: use {known}")
    arg = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if not (name.endswith("traceidratio") and arg):
        return
    with contextlib.suppress(ValueError):
        if 0.0 <= float(arg) <= 1.0:
            return
    raise TracingConfigError(f"OTEL_TRACES_SAMPLER_ARG={arg!r} is not a ratio between 0 and 1")


def _exporter(name: str) -> "SpanExporter | None":
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={name!r} is not supported: use otlp, console or none"
        )
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError as exc:
            raise TracingConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc:"
                " add it with `uv add opentelemetry-exporter-otlp-proto-grpc`, or use http/protobuf"
            ) from exc
        exporter: SpanExporter = GrpcSpanExporter()
        return exporter
    raise TracingConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf or grpc"
    )


def _exporter_names() -> list[str]:
    """``OTEL_TRACES_EXPORTER``; unset: ``otlp`` given an endpoint, else ``none`` (spec: otlp)."""
    names = os.environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not names:
        endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        names = "otlp" if any(os.environ.get(var) for var in endpoints) else "none"
    return [name.strip() for name in names.split(",")]


def configure_tracing(
    *,
    service_name: str,
    service_version: str,
    environment: str,
    exporter: "SpanExporter | None" = None,
) -> "TracerProvider | None":
    """Install a global tracer provider from ``OTEL_*``; ``exporter`` replaces theirs (tests)."""
    if not tracing_enabled():
        return None
    _check_sampler()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporters = [exporter] if exporter is not None else [_exporter(n) for n in _exporter_names()]
    # Resource.create() merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over these.
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name,
            "service.version": service_version,
            "deployment.environment.name": environment,
        }
    )
    provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER[_ARG]
    for chosen in exporters:
        if chosen is not None:
            provider.add_span_processor(BatchSpanProcessor(chosen))
    trace.set_tracer_provider(provider)
    logger.info("tracing.configured", sampler=provider.sampler.get_description())
    return provider


def instrument_httpx_client(client: "httpx.AsyncClient") -> None:
    """Give one outbound client client spans and ``traceparent`` (call it for any client you add).

    Per client, not process-wide: importing the instrumentation costs ~0.27 s of start-up.
    """
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


def shutdown_tracing(provider: "TracerProvider | None") -> None:
    """Flush the spans still queued and stop export (called once, at shutdown)."""
    if provider is not None:
        provider.shutdown()
