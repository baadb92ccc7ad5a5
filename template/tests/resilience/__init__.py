"""Retries, circuit breakers, timeouts and graceful degradation, over real sockets."""
