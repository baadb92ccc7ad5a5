"""The typed errors an upstream call raises; callers catch these to fall back."""

__all__ = ["UpstreamError", "UpstreamTimeoutError", "UpstreamUnavailableError"]


class UpstreamError(Exception):
    """An upstream call failed after every allowed attempt."""

    def __init__(self, upstream: str, message: str) -> None:
        super().__init__(f"{upstream}: {message}")
        self.upstream = upstream


class UpstreamTimeoutError(UpstreamError):
    """The call's total time budget ran out."""


class UpstreamUnavailableError(UpstreamError):
    """The upstream could not be reached, or dropped the connection."""
