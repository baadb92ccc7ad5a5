"""Logs, traces and metrics: what the service tells its operators."""
