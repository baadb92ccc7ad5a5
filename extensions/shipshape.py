"""Jinja extensions for the Shipshape template: filters and derived names.

Loaded through ``copier_template_extensions.TemplateExtensionLoader`` (see ``copier.yml``).
Everything that needs Python to compute lives here, in one place.
"""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

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


class ShipshapeFilters(Extension):
    """Filters used by questions and templates."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["shipshape_slugify"] = slugify
        environment.filters["shipshape_shadows"] = shadows
        environment.filters["shipshape_is_keyword"] = lambda v: keyword.iskeyword(str(v)) or keyword.issoftkeyword(str(v))


class DerivedNames(ContextHook):
    """Names derived from the answers, available to every rendered file."""

    def hook(self, context: dict[str, Any]) -> None:
        package = context.get("package_name")
        if not package:
            return  # answers not given yet (questionnaire still running)
        context["env_prefix"] = package.upper() + "_"
        version = str(context.get("python_version", "3.12"))
        context["python_tag"] = "py" + version.replace(".", "")
        # Kubernetes object names are DNS labels: at most 63 characters, no trailing '-'.
        context["k8s_name"] = str(context.get("project_slug", package))[:63].rstrip("-")
