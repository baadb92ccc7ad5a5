"""Tier 2: compose.yaml brings up every backing service the answers chose, each with a
health check, and wires the service to them with settings the service really reads.
(test_artifacts.py validates every option set's compose.yaml against the compose spec.)"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import OPTION_SETS, answers_of

# Each backing service: the URL scheme that reaches it and the port its image listens on.
BACKING = {
    "postgres": ({"postgresql", "postgres"}, 5432),
    "redis": ({"redis"}, 6379),
    "rabbitmq": ({"amqp"}, 5672),
    "nats": ({"nats"}, 4222),
}


def chosen_backing(answers: dict[str, Any]) -> set[str]:
    """The backing services the answers ask for."""
    chosen = {"postgres"} if answers["database"] != "none" else set()
    if answers["redis"] or answers["broker"] == "redis":
        chosen.add("redis")
    if answers["broker"] in {"rabbitmq", "nats"}:
        chosen.add(answers["broker"])
    return chosen


def settings_env_names(project: Path, package: str) -> set[str]:
    """The environment variables the generated Settings reads: ENV_PREFIX + each field's name."""
    tree = ast.parse((project / "src" / package / "settings.py").read_text(encoding="utf-8"))
    prefix = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "ENV_PREFIX" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    )
    settings = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    return {
        prefix + node.target.id.upper()
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_compose_runs_every_chosen_backing_service_with_a_health_check(
    rendered: dict[str, Path], option_set: str
) -> None:
    """Exactly the chosen backing services run, each healthy before the service starts."""
    compose = yaml.safe_load((rendered[option_set] / "compose.yaml").read_text(encoding="utf-8"))
    chosen = chosen_backing(answers_of(option_set))
    assert set(compose["services"]) == {"app", *chosen}
    app = compose["services"]["app"]
    assert app.get("depends_on", {}) == {name: {"condition": "service_healthy"} for name in chosen}
    for name in chosen:
        assert compose["services"][name]["healthcheck"]["test"], name
    if "nats" in chosen:
        assert "-js" in compose["services"]["nats"]["command"], "NATS needs JetStream for the broker"


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_compose_environment_names_real_settings_and_real_services(
    rendered: dict[str, Path], option_set: str
) -> None:
    """Every variable is a Settings field; every URL reaches a compose service on its port."""
    project = rendered[option_set]
    answers = answers_of(option_set)
    compose = yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))
    environment: dict[str, str] = compose["services"]["app"]["environment"]
    prefix = answers["package_name"].upper() + "_"

    unknown = set(environment) - settings_env_names(project, answers["package_name"])
    assert not unknown, f"compose sets variables Settings does not read: {sorted(unknown)}"

    urls = {name: urlsplit(value) for name, value in environment.items() if "://" in str(value)}
    expected_urls = {
        f"{prefix}DATABASE_URL": answers["database"] != "none",
        f"{prefix}REDIS_URL": answers["redis"],
        f"{prefix}BROKER_URL": answers["broker"] != "none",
    }
    assert set(urls) == {name for name, wanted in expected_urls.items() if wanted}
    for name, url in urls.items():
        assert url.hostname in compose["services"], f"{name} names no compose service: {url.hostname}"
        schemes, port = BACKING[url.hostname]
        assert url.scheme in schemes, (name, url.scheme)
        assert url.port == port, (name, url.port)


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_readme_names_the_backing_services_compose_runs(rendered: dict[str, Path], option_set: str) -> None:
    """The README's compose paragraph lists the chosen backing services in one sentence."""
    readme = " ".join((rendered[option_set] / "README.md").read_text(encoding="utf-8").split())
    assert ") (" not in readme.partition("docker compose up --build")[2][:400]
    names = {"postgres": "PostgreSQL", "redis": "Redis", "rabbitmq": "RabbitMQ", "nats": "NATS with JetStream"}
    sentence = readme.partition("beside the backing services it uses:")[2].partition(".")[0]
    for service in chosen_backing(answers_of(option_set)):
        assert names[service] in sentence, (service, sentence)
