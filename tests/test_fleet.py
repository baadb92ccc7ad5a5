"""Fleet artifacts: Renovate, the SLO rules and dashboard, the catalog entry, the dev container,
and the template repository's release tagging, each checked by its ecosystem's own validator.

The npm validators (renovate-config-validator, @backstage/catalog-model) are pinned in the
repository's package.json / package-lock.json; the ``npm_bin`` fixture runs ``npm ci`` once when
node_modules is missing or older than the lock file. promtool comes from Debian's prometheus
package (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from conftest import (
    OPTION_SETS,
    REPO,
    answers_of,
    clean_env,
    dev_token,
    free_port,
    missing_tool,
    render,
    run,
    uv_bin,
    wait_ready,
)
from test_artifacts import YAMLLINT_CONFIG, check, tool

SCHEMAS = Path(__file__).parent / "schemas"
GIT = ["git", "-c", "user.name=Release", "-c", "user.email=release@example.com", "-c", "commit.gpgsign=false"]
BROKER_SERVICES = {"rabbitmq": "rabbitmq", "redis": "redis", "nats": "nats"}


@pytest.fixture(scope="session", name="npm_bin")
def _npm_bin() -> Path:
    """node_modules/.bin of the repository, installed from package-lock.json by ``npm ci``."""
    installed = REPO / "node_modules" / ".package-lock.json"
    lock = REPO / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is required (Node.js 20 or later) for the Renovate and Backstage validators")
        result = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return REPO / "node_modules" / ".bin"


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        missing_tool("promtool")
    assert found is not None
    return found


# --- Renovate ----------------------------------------------------------------------------


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_renovate_config_passes_both_validators(rendered: dict[str, Path], option_set: str, npm_bin: Path) -> None:
    """renovate.json matches check-jsonschema's Renovate schema and renovate-config-validator --strict."""
    project = rendered[option_set]
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.renovate", "renovate.json"], project)
    out = check([str(npm_bin / "renovate-config-validator"), "--strict", "renovate.json"], project)
    assert "Config validated successfully" in out


def test_renovate_config_validator_refuses_an_unknown_manager(
    rendered: dict[str, Path], npm_bin: Path, tmp_path: Path
) -> None:
    """The pinned validator knows the managers: a misspelt one fails the run."""
    config = json.loads((rendered["default"] / "renovate.json").read_text())
    config["enabledManagers"].append("pep612")
    (tmp_path / "renovate.json").write_text(json.dumps(config))
    result = subprocess.run(
        [str(npm_bin / "renovate-config-validator"), "--strict", "renovate.json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0
    assert "pep612" in result.stdout + result.stderr


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_renovate_updates_template_python_ci_and_images_on_a_schedule(
    rendered: dict[str, Path], option_set: str
) -> None:
    """copier, pep621 (uv), the CI provider's manager, Dockerfile and compose images; grouped, weekly."""
    config = json.loads((rendered[option_set] / "renovate.json").read_text())
    ci = "github-actions" if answers_of(option_set)["ci_provider"] == "github" else "gitlabci"
    assert set(config["enabledManagers"]) == {"copier", "pep621", ci, "dockerfile", "docker-compose", "devcontainer"}
    assert config["schedule"] and config["lockFileMaintenance"]["enabled"] is True
    rules = config["packageRules"]
    assert all(rule.get("groupName") for rule in rules)
    by_manager = {m: rule for rule in rules for m in rule.get("matchManagers", [])}
    assert by_manager["copier"]["ignoreScripts"] is False  # the template's extensions need --trust
    assert "pep621" in by_manager
    assert ("github-actions" in by_manager) is (ci == "github-actions")
    if ci == "github-actions":
        assert by_manager["github-actions"]["pinDigests"] is True
    images = [rule for rule in rules if rule.get("matchDatasources") == ["docker"]]
    assert images and images[0]["pinDigests"] is True


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_ci_files_point_at_renovate_not_dependabot(rendered: dict[str, Path], option_set: str) -> None:
    """No file tells the owner to use Dependabot; the template-update job says Renovate sits beside it."""
    project = rendered[option_set]
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert "dependabot" not in path.read_text(errors="replace").lower(), path
    if answers_of(option_set)["ci_provider"] == "github":
        assert "renovate.json" in (project / ".github" / "workflows" / "ci.yml").read_text()
        assert "renovate.json" in (project / ".github" / "workflows" / "template-update.yml").read_text()
    else:
        assert "renovate.json" in (project / ".gitlab-ci.yml").read_text()


# --- SLOs, alerts, PrometheusRule, dashboard ---------------------------------------------


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_slo_rules_pass_promtool_check_and_unit_tests(rendered: dict[str, Path], option_set: str) -> None:
    """promtool check rules accepts the rule file, and its unit tests (the 5xx burst pages) pass."""
    monitoring = rendered[option_set] / "deploy" / "monitoring"
    out = check([promtool(), "check", "rules", "slo-rules.yml"], monitoring)
    assert "SUCCESS" in out
    out = check([promtool(), "test", "rules", "slo-rules.test.yml"], monitoring)
    assert "SUCCESS" in out
    tests = load(monitoring / "slo-rules.test.yml")["tests"]
    fired = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t["exp_alerts"]}
    assert "AvailabilityBudgetFastBurn" in fired


def test_promtool_unit_tests_fail_when_the_burst_does_not_page(rendered: dict[str, Path], tmp_path: Path) -> None:
    """The fast-burn test can fail: without the 5xx burst, promtool reports the missing alert."""
    monitoring = rendered["default"] / "deploy" / "monitoring"
    shutil.copy(monitoring / "slo-rules.yml", tmp_path)
    text = (monitoring / "slo-rules.test.yml").read_text().replace('"0x60 0+200x15"', '"0x75"', 1)
    (tmp_path / "slo-rules.test.yml").write_text(text)
    result = subprocess.run(
        [promtool(), "test", "rules", "slo-rules.test.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "AvailabilityBudgetFastBurn" in result.stdout + result.stderr


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_alerts_cover_burn_rates_readiness_breakers_and_the_outbox(rendered: dict[str, Path], option_set: str) -> None:
    """Fast and slow burn for both SLIs, readiness and breaker alerts; OutboxBacklog only with a broker."""
    rules = load(rendered[option_set] / "deploy" / "monitoring" / "slo-rules.yml")
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    expected = {
        "AvailabilityBudgetFastBurn", "AvailabilityBudgetSlowBurn", "LatencyBudgetFastBurn",
        "LatencyBudgetSlowBurn", "ReadinessCheckFailing", "ReadinessFailingEverywhere", "CircuitBreakerOpen",
    }
    if answers_of(option_set)["broker"] != "none":
        expected.add("OutboxBacklog")
    assert set(alerts) == expected
    assert all(a["labels"]["severity"] in {"page", "ticket"} and a["annotations"]["runbook_url"] for a in alerts.values())
    targets = [r for r in rules["groups"][0]["rules"] if r["record"].startswith("slo:")]
    assert {r["record"] for r in targets} == {
        "slo:availability_objective:ratio", "slo:latency_objective:ratio", "slo:latency_threshold:info"
    }


def strict(schema: Any) -> Any:
    """The schema with unknown properties refused wherever it lists the known ones."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_prometheusrule_matches_its_crd_schema_and_the_rule_file(rendered: dict[str, Path], option_set: str) -> None:
    """The kustomize base lists the PrometheusRule; it fits the CRD's schema and holds the rule file's groups."""
    k8s = rendered[option_set] / "deploy" / "k8s"
    assert "prometheusrule.yaml" in load(k8s / "kustomization.yaml")["resources"]
    resource = load(k8s / "prometheusrule.yaml")
    assert (resource["apiVersion"], resource["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", resource["metadata"]["name"])
    schema = strict(json.loads((SCHEMAS / "prometheus-operator" / "prometheusrule-v1.json").read_text()))
    jsonschema.validate(resource, schema)
    rules = load(k8s.parent / "monitoring" / "slo-rules.yml")
    assert resource["spec"]["groups"] == rules["groups"]


def test_prometheusrule_schema_refuses_a_misspelt_field(rendered: dict[str, Path]) -> None:
    """A misspelt rule field (which the API server would prune silently) fails the check."""
    resource = load(rendered["default"] / "deploy" / "k8s" / "prometheusrule.yaml")
    resource["spec"]["groups"][0]["rules"][0]["lables"] = {"x": "y"}
    schema = strict(json.loads((SCHEMAS / "prometheus-operator" / "prometheusrule-v1.json").read_text()))
    with pytest.raises(jsonschema.ValidationError, match="lables"):
        jsonschema.validate(resource, schema)


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_monitoring_yaml_passes_yamllint(rendered: dict[str, Path], option_set: str) -> None:
    """The rule file, its tests, the catalog entry and the dev container's compose file pass yamllint."""
    project = rendered[option_set]
    files = [
        *map(str, (project / "deploy" / "monitoring").glob("*.yml")),
        "catalog-info.yaml", ".devcontainer/compose.yaml",
    ]
    check([tool("yamllint"), "--strict", "-d", YAMLLINT_CONFIG, *files], project)


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_dashboard_queries_only_metrics_the_rules_use(rendered: dict[str, Path], option_set: str) -> None:
    """The Grafana dashboard is JSON of timeseries panels over the service's job and the recorded SLIs."""
    project = rendered[option_set]
    dashboard = json.loads((project / "deploy" / "monitoring" / "dashboard.json").read_text())
    job = f'job="{project_slug(option_set)}"'
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs and all(job in e for e in exprs)
    rules = load(project / "deploy" / "monitoring" / "slo-rules.yml")
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    used = {n for e in exprs for n in metric_names(e)}
    assert used & recorded, "the dashboard shows none of the SLIs the rules record"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


# Names in a PromQL expression that are not metric names.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "by", "without", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "histogram_quantile", "vector", "scalar", "bool",
    "offset", "abs", "absent", "inf", "nan", "label_replace",
}


def strip_promql(expr: str) -> str:
    """The expression without string literals, label matchers, ranges and grouping lists."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    return re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)


def metric_names(expr: str) -> set[str]:
    """Metric and recorded-series names an expression reads."""
    words = re.findall(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", strip_promql(expr))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d.*", w)}


def selector_labels(expr: str) -> dict[str, set[str]]:
    """For each metric selected with matchers, the label names its matchers use."""
    found: dict[str, set[str]] = {}
    for name, body in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expr):
        found.setdefault(name, set()).update(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body))
    return found


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr)
        for label in group.split(",") if label.strip()
    }


def project_slug(option_set: str) -> str:
    return str(answers_of(option_set)["project_slug"])


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- catalog entry -------------------------------------------------------------------------


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_catalog_entry_passes_the_backstage_catalog_model(rendered: dict[str, Path], option_set: str) -> None:
    """Backstage's own validators accept the Component and API entities (placeholders resolved first)."""
    project = rendered[option_set]
    entities = list(yaml.safe_load_all((project / "catalog-info.yaml").read_text()))
    resolved = []
    for entity in entities:
        spec = dict(entity["spec"])
        if "definition" in spec:
            # The catalog replaces {$text: path} with the file's text before it validates.
            assert set(spec["definition"]) == {"$text"}
            spec["definition"] = "{}"
        resolved.append({**entity, "spec": spec})
    result = backstage_validate(resolved)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") == len(entities)


def test_backstage_validation_refuses_a_bad_entity(rendered: dict[str, Path]) -> None:
    """The catalog model's validators can fail: a Component without spec.type is refused."""
    component = next(yaml.safe_load_all((rendered["default"] / "catalog-info.yaml").read_text()))
    del component["spec"]["type"]
    result = backstage_validate([component])
    assert result.returncode == 1
    assert "type" in result.stdout


def backstage_validate(entities: list[Any]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required for the Backstage catalog validator")
    return subprocess.run(
        [node, str(Path(__file__).parent / "backstage_validate.cjs")],
        input=json.dumps(entities), cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture(scope="module", autouse=True)
def _backstage_installed(npm_bin: Path) -> None:
    """The catalog model is installed with the other npm validators."""


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_catalog_entry_names_owner_runbook_and_apis(rendered: dict[str, Path], option_set: str) -> None:
    """The owner comes from author_name; links reach the README's runbook; AsyncAPI only with a broker."""
    answers = answers_of(option_set)
    entities = list(yaml.safe_load_all((rendered[option_set] / "catalog-info.yaml").read_text()))
    component = entities[0]
    owner = re.sub(r"[^a-z0-9]+", "-", answers["author_name"].lower().replace("ë", "e")).strip("-")
    assert component["kind"] == "Component"
    assert component["spec"]["type"] == "service"
    assert component["spec"]["owner"] == owner
    assert component["spec"]["lifecycle"]
    assert any(link["url"].endswith("README.md#runbook") for link in component["metadata"]["links"])
    apis = {e["metadata"]["name"]: e["spec"]["type"] for e in entities[1:]}
    assert set(component["spec"]["providesApis"]) == set(apis)
    expected = {f"{answers['project_slug']}-http": "openapi"}
    if answers["broker"] != "none":
        expected[f"{answers['project_slug']}-events"] = "asyncapi"
    assert apis == expected
    readme = (rendered[option_set] / "README.md").read_text()
    assert "\n## Runbook\n" in readme


# --- dev container -------------------------------------------------------------------------


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_devcontainer_matches_its_schema_and_runs_the_compose_services(rendered: dict[str, Path], option_set: str) -> None:
    """devcontainer.json fits the spec's schema; it runs compose.yaml's backing services beside a dev service."""
    project = rendered[option_set]
    check(
        [tool("check-jsonschema"), "--schemafile", str(SCHEMAS / "devcontainer" / "devContainer.base.schema.json"),
         ".devcontainer/devcontainer.json"],
        project,
    )
    config = json.loads((project / ".devcontainer" / "devcontainer.json").read_text())
    files = [project / ".devcontainer" / f for f in config["dockerComposeFile"]]
    assert all(f.is_file() for f in files)
    overlay = load(project / ".devcontainer" / "compose.yaml")
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", ".devcontainer/compose.yaml"], project)
    services = set(load(project / "compose.yaml")["services"]) | set(overlay["services"])
    assert config["service"] in overlay["services"]
    answers = answers_of(option_set)
    backing = {"postgres"} if answers["database"] != "none" else set()
    if answers["redis"] or answers["broker"] == "redis":
        backing.add("redis")
    if answers["broker"] in BROKER_SERVICES:
        backing.add(BROKER_SERVICES[answers["broker"]])
    assert set(config["runServices"]) == backing | {config["service"]}
    missing = set(config["runServices"]) - services
    assert not missing, f"compose.yaml defines no {sorted(missing)} service"
    env = overlay["services"]["dev"].get("environment", {})
    assert ("TEST_POSTGRES_URL" in env) is (answers["database"] != "none")
    assert ("TEST_BROKER_URL" in env) is (answers["broker"] != "none")


# --- the template repository's releases ----------------------------------------------------


def test_template_ci_workflow_passes_the_schema_and_zizmor() -> None:
    """The root workflow matches the GitHub workflow schema and zizmor (pedantic) finds nothing."""
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", ".github/workflows/ci.yml"], REPO)
    out = check([tool("zizmor"), "--offline", "--persona=pedantic", ".github/workflows"], REPO)
    assert "No findings to report" in out


def test_template_ci_tests_everything_and_tags_only_from_main() -> None:
    """Pull requests and pushes run scripts/test; only a push to main, after the tests, runs release-tag."""
    workflow = load(REPO / ".github" / "workflows" / "ci.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"push", "pull_request"}
    assert any(step.get("run") == "scripts/test" for step in workflow["jobs"]["test"]["steps"])
    release = workflow["jobs"]["release"]
    assert release["needs"] == "test"
    assert "refs/heads/main" in release["if"] and "push" in release["if"]
    assert release["permissions"] == {"contents": "write"}
    assert any("scripts/release-tag --push" in step.get("run", "") for step in release["steps"])
    assert workflow["permissions"] == {}


@pytest.fixture(name="scratch")
def _scratch(tmp_path: Path) -> Path:
    """A scratch git repository with three commits (the first two released) and a CHANGELOG."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shas = []
    for n in range(3):
        (repo / "file.txt").write_text(f"{n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"change {n}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    write_changelog(repo, [("0.3.0", None), ("0.2.0", shas[1][:7]), ("0.1.0", shas[0][:7])])
    return repo


def write_changelog(repo: Path, entries: list[tuple[str, str | None]]) -> None:
    parts = ["# Changelog\n\nTemplate releases.\n"]
    for version, sha in entries:
        heading = f"## {version}" + (f" (commit `{sha}`)" if sha else "")
        parts.append(f"\n{heading}\n\n- a change\n")
    (repo / "CHANGELOG.md").write_text("".join(parts))


def git(repo: Path, *args: str) -> str:
    result = subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def release_tag(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "release-tag"), *args], cwd=repo, capture_output=True, text=True,
        timeout=60, check=False,
        env={**os.environ, "GIT_COMMITTER_NAME": "r", "GIT_COMMITTER_EMAIL": "r@example.com"},
    )


def tags(repo: Path) -> dict[str, str]:
    lines = git(repo, "for-each-ref", "--format=%(refname:short) %(*objectname)", "refs/tags").splitlines()
    return dict(line.split() for line in lines)


def test_release_tag_tags_each_released_entry_once(scratch: Path) -> None:
    """Entries naming a commit get an annotated PEP 440 tag on it; a second run changes nothing."""
    first = release_tag(scratch)
    assert first.returncode == 0, first.stderr
    log = git(scratch, "log", "--format=%H", "--reverse").splitlines()
    assert tags(scratch) == {"0.1.0": log[0], "0.2.0": log[1]}  # 0.3.0 names no commit yet
    assert "tagged 0.1.0" in first.stdout and "tagged 0.2.0" in first.stdout
    second = release_tag(scratch)
    assert second.returncode == 0
    assert "tagged" not in second.stdout.replace("every released entry has its tag", "")
    assert tags(scratch) == {"0.1.0": log[0], "0.2.0": log[1]}


def test_release_tag_leaves_an_existing_tag_alone(scratch: Path) -> None:
    """A version already tagged (even elsewhere) keeps its tag; the others are still made."""
    log = git(scratch, "log", "--format=%H", "--reverse").splitlines()
    git(scratch, "tag", "0.2.0", log[2])
    result = release_tag(scratch)
    assert result.returncode == 0, result.stderr
    assert "0.2.0 is tagged at" in result.stdout and "left alone" in result.stdout
    assert git(scratch, "rev-parse", "0.2.0^{commit}") == log[2]
    assert git(scratch, "rev-parse", "0.1.0^{commit}") == log[0]


def test_release_tag_tags_the_newest_entry_once_it_names_a_commit(scratch: Path) -> None:
    """Cutting a release is writing its commit into the newest heading; the next run tags it."""
    log = git(scratch, "log", "--format=%H", "--reverse").splitlines()
    write_changelog(scratch, [("0.4.0", None), ("0.3.0", log[2][:7]), ("0.2.0", log[1][:7]), ("0.1.0", log[0][:7])])
    assert release_tag(scratch).returncode == 0
    assert tags(scratch)["0.3.0"] == log[2]
    assert "0.4.0" not in tags(scratch)


@pytest.mark.parametrize(
    ("heading", "message"),
    [
        ("## 0.2 (commit `abc1234`)", "CHANGELOG.md:9: '## 0.2 (commit `abc1234`)' is not '## X.Y.Z'"),
        ("## 0.2.0 (commit abc1234)", "CHANGELOG.md:9: '## 0.2.0 (commit abc1234)' is not '## X.Y.Z'"),
        ("## 0.2.0", "CHANGELOG.md:9: 0.2.0 names no commit; only the newest entry may be unreleased"),
        ("## 0.2.0 (commit `deadbee`)", "CHANGELOG.md:9: commit deadbee of 0.2.0 is not in this repository"),
        ("## 0.5.0 (commit `{sha}`)", "CHANGELOG.md:9: 0.5.0 is not older than the entry above it"),
    ],
)
def test_release_tag_refuses_a_malformed_changelog_with_one_clear_line(
    scratch: Path, heading: str, message: str
) -> None:
    """A bad heading, a commit-less older entry, an unknown commit or a wrong order: exit 2, no tag, no traceback."""
    text = (scratch / "CHANGELOG.md").read_text().splitlines()
    line = next(i for i, t in enumerate(text) if t.startswith("## 0.2.0"))
    assert line + 1 == 9
    text[line] = heading.format(sha=git(scratch, "rev-parse", "--short=7", "HEAD~1"))
    (scratch / "CHANGELOG.md").write_text("\n".join(text) + "\n")
    result = release_tag(scratch)
    assert result.returncode == 2
    assert result.stderr.startswith(f"release-tag: {message}"), result.stderr
    assert "Traceback" not in result.stderr
    assert tags(scratch) == {}


def test_release_tag_reads_this_repositorys_changelog() -> None:
    """The template's own CHANGELOG.md is well formed: a dry run would tag each untagged release."""
    result = release_tag(REPO, "--dry-run")
    assert result.returncode == 0, result.stderr
    released = re.findall(r"^## (\d+\.\d+\.\d+) \(commit", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert released
    existing = set(git(REPO, "tag", "--list").split())
    for version in released:
        assert version in existing or f"would tag {version} at" in result.stdout


# --- metric names against a real scrape ---------------------------------------------------

SCRAPE_SETS = ("default", "py313-inventory")  # the second has a broker (RabbitMQ) and its outbox
TARGET_LABELS = {"job", "instance"}
LOCAL_BROKERS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "redis": "redis://127.0.0.1:6379/0",
    "nats": "nats://127.0.0.1:4222",
}  # added by Prometheus when it scrapes, not by the service


def parse_exposition(text: str) -> dict[str, set[str]]:
    """Metric name -> label names seen, from Prometheus text format (HELP/TYPE names included)."""
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            found.setdefault(name, set())
            if kind == "histogram":
                for suffix in ("_bucket", "_count", "_sum"):
                    found.setdefault(name + suffix, set())
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s", line)
        if match and not line.startswith("#"):
            labels = set(re.findall(r'(\w+)="(?:[^"\\]|\\.)*"', match[2] or ""))
            found.setdefault(match[1], set()).update(labels)
    return found


@pytest.fixture(scope="module", name="scraped")
def _scraped(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each scrape set rendered, synced and run; its /metrics text after a few requests."""
    out: dict[str, tuple[Path, str]] = {}
    for name in SCRAPE_SETS:
        answers = answers_of(name)
        project = render(template, tmp_path_factory.mktemp(name) / "svc", tasks=True, **OPTION_SETS[name])
        run([uv_bin(), "sync", "--locked", "--quiet"], project)
        prefix = answers["package_name"].upper() + "_"
        port = free_port()
        env = clean_env(**{
            f"{prefix}PORT": str(port),
            f"{prefix}SQLITE_PATH": str(project.parent / "scrape.sqlite3"),
            # An upstream that refuses connections: the stock route retries, its breaker is tracked.
            f"{prefix}UPSTREAM_STOCK_URL": f"http://127.0.0.1:{free_port()}",
            **({f"{prefix}BROKER_URL": LOCAL_BROKERS[answers["broker"]]} if answers["broker"] != "none" else {}),
        })
        process = subprocess.Popen(
            [str(project / ".venv" / "bin" / "python"), "-m", answers["package_name"]],
            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            assert wait_ready(base, 60), f"{name}: the service never answered /readyz with 200"
            auth = dev_token(project, answers["package_name"], env) if answers["auth"] == "oidc" else {}
            item = httpx.post(f"{base}/items", json={"name": "scrape"}, headers=auth, timeout=10).json()
            httpx.get(f"{base}/items/{item['id']}/stock", headers=auth, timeout=30)
            httpx.get(f"{base}/no-such-route", timeout=10)
            httpx.get(f"{base}/readyz", timeout=10)
            text = httpx.get(f"{base}/metrics", timeout=10).text
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        out[name] = (project, text)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("option_set", SCRAPE_SETS)
def test_rules_and_dashboard_use_only_metrics_and_labels_the_service_exports(
    scraped: dict[str, tuple[Path, str]], option_set: str
) -> None:
    """Every metric name and label the rules and the dashboard read is in the running service's /metrics."""
    project, text = scraped[option_set]
    exported = parse_exposition(text)
    rules = load(project / "deploy" / "monitoring" / "slo-rules.yml")
    recorded = {r["record"]: set(r.get("labels") or {}) for g in rules["groups"] for r in g["rules"] if "record" in r}
    dashboard = json.loads((project / "deploy" / "monitoring" / "dashboard.json").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    raw: set[str] = set()
    for expr in exprs:
        for name in metric_names(expr):
            if name in recorded:
                continue
            assert name in exported, f"{name} (in {expr!r}) is not in the service's /metrics"
            raw.add(name)
        for name, labels in selector_labels(expr).items():
            have = recorded[name] | {"job", "route"} if name in recorded else exported[name] | TARGET_LABELS
            assert labels <= have, f"{name} has no label {sorted(labels - have)} (in {expr!r})"
    known = set().union(*(exported[n] for n in raw)) | TARGET_LABELS | {"le"}
    for expr in exprs:
        assert grouping_labels(expr) <= known, f"{expr!r} groups by a label no metric has"
    assert "resilience_breaker_state{" in text, "no breaker is exported: the stock upstream was not set up"
    if answers_of(option_set)["broker"] != "none":
        assert re.search(r'service_readiness_check_up\{check="outbox"\}', text), "no outbox readiness check exported"


def test_metric_name_extraction_reads_selectors_and_skips_functions() -> None:
    """The PromQL reader finds metric names and matcher labels, not functions, keywords or strings."""
    expr = (
        'sum by (job, route) (rate(http_server_requests_total{job="x", status_class="5xx"}[5m]))'
        ' / on (job) group_left () slo:availability_objective:ratio and histogram_quantile(0.9, foo_bucket)'
    )
    assert metric_names(expr) == {"http_server_requests_total", "slo:availability_objective:ratio", "foo_bucket"}
    assert selector_labels(expr) == {"http_server_requests_total": {"job", "status_class"}}
    assert grouping_labels(expr) == {"job", "route"}
