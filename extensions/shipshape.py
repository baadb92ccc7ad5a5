"""Jinja extensions for the Shipshape template: filters and derived names.

Loaded through ``copier_template_extensions.TemplateExtensionLoader`` (see ``copier.yml``).
Everything that needs Python to compute lives here, in one place.
"""

from __future__ import annotations

import functools
import keyword
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from copier.errors import UserMessageError
from copier_template_extensions import ContextHook
from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

# Top-level import names of the generated service's dependencies (runtime, dev and the
# optional integrations later features add). A package with one of these names would be
# shadowed by, or shadow, the dependency.
DEPENDENCY_MODULES = frozenset(
    {
        "aio_pika",
        "aiosqlite",
        "alembic",
        "anyio",
        "asyncpg",
        "bandit",
        "circuitbreaker",
        "faststream",
        "fastapi",
        "h11",
        "httptools",
        "httpx",
        "mypy",
        "nats",
        "openfeature",
        "opentelemetry",
        "orjson",
        "prometheus_client",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "pytest",
        "redis",
        "ruff",
        "sqlalchemy",
        "stamina",
        "starlette",
        "structlog",
        "tenacity",
        "uvicorn",
        "uvloop",
        "watchfiles",
        "websockets",
        "yaml",
    }
)

# Names that are not in sys.stdlib_module_names but still break imports or tooling.
OTHER_RESERVED = frozenset({"test", "tests", "src", "site", "conftest", "setup"})


def slugify(value: str) -> str:
    """Lowercase ASCII words joined by '-' ("Orders Service!" -> "orders-service")."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)


def shadows(name: str) -> str:
    """Say what ``name`` would shadow: "standard-library", "dependency", or "" for nothing."""
    if name in sys.stdlib_module_names or name in OTHER_RESERVED:
        return "standard-library"
    if name in DEPENDENCY_MODULES:
        return "dependency"
    return ""


class AnswerRefused(UserMessageError, ValueError):
    """A --data answer its question refuses. copier's command line prints a UserMessageError
    as one short message; a ValueError (what copier's own validation raises) for Python callers."""


@functools.cache
def questions(src_path: str) -> dict[str, dict[str, Any]]:
    """The questions of the template's copier.yml, in order."""
    settings = yaml.safe_load((Path(src_path) / "copier.yml").read_text(encoding="utf-8"))
    return {name: spec for name, spec in settings.items() if not name.startswith("_") and isinstance(spec, dict)}


def cast(value: Any, type_name: str) -> Any:
    """A --data value as copier reads it for a str or bool question (others as given)."""
    if type_name == "bool" and isinstance(value, str):
        return value.strip().lower() in {"y", "yes", "t", "true", "on", "1"}
    return str(value) if type_name == "str" else value


def refusal(question: dict[str, Any], value: Any, render: Any) -> str:
    """Why the question refuses ``value`` (its choices, then its validator), or ""."""
    choices = question.get("choices")
    if choices is not None:
        allowed = [str(c) for c in (choices.values() if isinstance(choices, dict) else choices)]
        if str(value) not in allowed:
            return f"{value!r} is not one of: {', '.join(allowed)}"
    return str(render(question.get("validator", ""))).strip()


@pass_context
def check_data(context: Context, value: str = "") -> str:
    """Refuse the first bad --data answer with copier's message, raised as AnswerRefused."""
    conf = context.get("_copier_conf") or {}
    given = dict(conf.get("data") or {})
    if not given:
        return value
    specs = questions(str(conf["src_path"]))
    answers = {**context.get_all()}
    answers.update({k: cast(v, specs[k].get("type", "str")) for k, v in given.items() if k in specs})
    for name, spec in specs.items():
        if name in given:
            message = refusal(spec, answers[name], lambda t: context.environment.from_string(t).render(answers))
            if message:
                raise AnswerRefused(f"Validation error for question '{name}': {message}")
    return value


class ShipshapeFilters(Extension):
    """Filters used by questions and templates."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["shipshape_slugify"] = slugify
        environment.filters["shipshape_shadows"] = shadows
        environment.filters["shipshape_is_keyword"] = lambda v: keyword.iskeyword(str(v)) or keyword.issoftkeyword(str(v))
        environment.filters["shipshape_check_data"] = check_data


class DerivedNames(ContextHook):
    """Names derived from the answers, available to every rendered file."""

    def hook(self, context: dict[str, Any]) -> None:
        package = context.get("package_name")
        if not package:
            return  # answers not given yet (questionnaire still running)
        context["env_prefix"] = package.upper() + "_"
        # http_port is asked as a str (see copier.yml); the templates and the answers file
        # use it as an int, as they did when it was asked as one.
        port = str(context.get("http_port", ""))
        if port.isdigit():
            context["http_port"] = int(port)
            answers = context.get("_copier_answers")
            if isinstance(answers, dict) and "http_port" in answers:
                context["_copier_answers"] = {**answers, "http_port": int(port)}
        version = str(context.get("python_version", "3.12"))
        context["python_tag"] = "py" + version.replace(".", "")
        # Kubernetes object names are DNS labels: at most 63 characters, no trailing '-'.
        context["k8s_name"] = str(context.get("project_slug", package))[:63].rstrip("-")
