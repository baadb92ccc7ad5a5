"""DORA metrics from the git history and the deployment log the CI deploy job appends to."""

from .log import Deployment, LogError, append_deployment, read_log
from .metrics import Band, Metric, Report, compute

__all__ = [
    "Band",
    "Deployment",
    "LogError",
    "Metric",
    "Report",
    "append_deployment",
    "compute",
    "read_log",
]
