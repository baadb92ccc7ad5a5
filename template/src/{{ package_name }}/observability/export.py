"""Span export helpers; imported only when tracing is on (this module loads the SDK)."""

from opentelemetry.sdk.resources import Resource

__all__ = ["HashedOnceResource"]


class HashedOnceResource(Resource):
    """The SDK's resource with its hash computed once.

    The OTLP encoder hashes the resource of every span it exports, and the SDK's hash is a
    JSON dump of the attributes each time (~5 us a span, a tenth of the export's CPU).
    """

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash
