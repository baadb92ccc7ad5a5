"""The deployment log: JSON Lines, one deployment per line, appended to by CI.

Each line is an object with these keys (any other key is refused, to catch typos)::

    {"time": "2026-11-20T10:15:00Z", "commit": "<full or abbreviated git SHA>",
     "environment": "production", "status": "success"}

``time`` is ISO 8601 with a timezone; ``status`` is ``success`` (the deployment went out and
works), ``failure`` (it failed or caused a failure in that environment) or ``restored`` (a
successful deployment that restored service after a failure: a rollback or a fix). Blank
lines are allowed; anything else that is not such an object is an error naming its line.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast, get_args

__all__ = ["STATUSES", "Deployment", "LogError", "append_deployment", "read_log"]

Status = Literal["success", "failure", "restored"]
STATUSES: tuple[str, ...] = get_args(Status)
KEYS = frozenset({"time", "commit", "environment", "status"})
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class LogError(ValueError):
    """A deployment log line that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Deployment:
    """One line of the deployment log."""

    time: datetime
    commit: str
    environment: str
    status: Status
    line: int = 0

    def to_json(self) -> str:
        """The deployment as one log line (without the newline)."""
        return json.dumps(
            {
                "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "commit": self.commit,
                "environment": self.environment,
                "status": self.status,
            },
            separators=(",", ":"),
        )


def parse_time(value: object) -> datetime:
    """An ISO 8601 timestamp with a timezone, as an aware datetime."""
    if not isinstance(value, str):
        raise ValueError("'time' must be an ISO 8601 string such as 2026-11-20T10:15:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'time' {value!r} is not ISO 8601 (e.g. 2026-11-20T10:15:00Z)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"'time' {value!r} has no timezone (end it with Z or +00:00)")
    return parsed


def parse_line(text: str, number: int) -> Deployment:
    """One deployment from one line of the log; ValueError says what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object")
    missing = sorted(KEYS - data.keys())
    if missing:
        raise ValueError(f"missing {', '.join(repr(key) for key in missing)}")
    unknown = sorted(data.keys() - KEYS)
    if unknown:
        raise ValueError(f"unknown key {', '.join(repr(key) for key in unknown)}")
    commit, environment, status = data["commit"], data["environment"], data["status"]
    if not isinstance(commit, str) or not COMMIT.match(commit):
        raise ValueError(f"'commit' {commit!r} is not a git SHA (7-40 lowercase hex digits)")
    if not isinstance(environment, str) or not ENVIRONMENT.match(environment):
        raise ValueError(f"'environment' {environment!r} is not a name (letters, digits, ._-)")
    if status not in STATUSES:
        raise ValueError(f"'status' {status!r} is not one of {', '.join(STATUSES)}")
    return Deployment(parse_time(data["time"]), commit, environment, cast(Status, status), number)


def read_log(path: Path) -> list[Deployment]:
    """Every deployment in the log, oldest first; LogError names the first bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LogError(f"{path}: deployment log not found") from None
    except UnicodeDecodeError:
        raise LogError(f"{path}: deployment log is not UTF-8 text") from None
    deployments: list[Deployment] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            deployments.append(parse_line(line, number))
        except ValueError as exc:
            raise LogError(f"{path}:{number}: {exc}") from None
    return sorted(deployments, key=lambda deployment: deployment.time)


def append_deployment(path: Path, deployment: Deployment) -> Deployment:
    """Append one deployment; a success right after a failure is recorded as ``restored``."""
    existing = read_log(path) if path.exists() else []
    previous = [d for d in existing if d.environment == deployment.environment]
    if deployment.status == "success" and previous and previous[-1].status == "failure":
        deployment = Deployment(
            deployment.time, deployment.commit, deployment.environment, "restored"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(deployment.to_json() + "\n")
    return deployment
