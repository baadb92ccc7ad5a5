"""Tier 2: every rendered CI file, Dockerfile, manifest, compose file and script passes the
offline validators, and what they say about ports, probes and shutdown matches the service."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import OPTION_SETS, answers_of

KUBERNETES_VERSION = "1.37.0"  # the newest schema set kubernetes-validate ships
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
YAMLLINT_CONFIG = (
    "{extends: default, rules: {line-length: {max: 120}, document-start: disable,"
    " truthy: {check-keys: false}}}"
)
MANIFESTS = ("configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml")
# Custom resources in the base: not built-in kinds, so tests/test_fleet.py checks them (CRD schema).
CUSTOM_RESOURCES = ("prometheusrule.yaml",)


def tool(name: str) -> str:
    """A validator from the template's dev dependencies (beside this Python) or from PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run `uv sync` (it is a template dev dependency)")
    return found


def check(cmd: list[str], cwd: Path) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def ci_files(project: Path, provider: str) -> list[Path]:
    if provider == "github":
        return sorted((project / ".github" / "workflows").glob("*.yml"))
    return [project / ".gitlab-ci.yml"]


# --- the CI provider question -------------------------------------------------------------


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_only_the_chosen_ci_provider_is_written(rendered: dict[str, Path], option_set: str) -> None:
    """github writes .github/workflows/ and no .gitlab-ci.yml; gitlab the other way round."""
    project = rendered[option_set]
    github = answers_of(option_set)["ci_provider"] == "github"
    assert (project / ".github" / "workflows" / "ci.yml").is_file() is github
    assert (project / ".github" / "workflows" / "batch-size.yml").is_file() is github
    assert (project / ".gitlab-ci.yml").is_file() is not github


def test_option_sets_cover_both_ci_providers() -> None:
    """Every ci_provider value is rendered and validated by some option set."""
    assert {answers_of(name)["ci_provider"] for name in OPTION_SETS} == {"github", "gitlab"}


# --- validators ---------------------------------------------------------------------------


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_ci_files_match_the_vendored_schemas(rendered: dict[str, Path], option_set: str) -> None:
    """check-jsonschema accepts the CI files (GitHub workflow or GitLab CI) and compose.yaml."""
    project = rendered[option_set]
    provider = answers_of(option_set)["ci_provider"]
    schema = "vendor.github-workflows" if provider == "github" else "vendor.gitlab-ci"
    files = [str(path) for path in ci_files(project, provider)]
    check([tool("check-jsonschema"), "--builtin-schema", schema, *files], project)
    check([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"], project)


@pytest.mark.parametrize("option_set", [n for n in OPTION_SETS if answers_of(n)["ci_provider"] == "github"])
def test_zizmor_finds_nothing_in_the_workflows(rendered: dict[str, Path], option_set: str) -> None:
    """zizmor --offline (pedantic persona) reports no finding in the GitHub workflows."""
    project = rendered[option_set]
    out = check([tool("zizmor"), "--offline", "--persona=pedantic", ".github/workflows"], project)
    assert "No findings to report" in out


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_hadolint_has_no_warnings(rendered: dict[str, Path], option_set: str) -> None:
    """hadolint reports nothing at all (not even style or info) for the Dockerfile."""
    project = rendered[option_set]
    out = check([tool("hadolint"), "--failure-threshold", "style", "Dockerfile"], project)
    assert out.strip() == ""


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_manifests_validate_strictly_on_current_kubernetes(rendered: dict[str, Path], option_set: str) -> None:
    """Every manifest in the kustomization is a valid object of Kubernetes 1.37, strictly."""
    k8s = rendered[option_set] / "deploy" / "k8s"
    kustomization = load(k8s / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(MANIFESTS + CUSTOM_RESOURCES)
    listed = {p.name for p in k8s.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == set(MANIFESTS + CUSTOM_RESOURCES), "a manifest is missing from the kustomization"
    for name in MANIFESTS:
        for document in yaml.safe_load_all((k8s / name).read_text()):
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_fails_on_unknown_api_versions_and_fields(
    rendered: dict[str, Path],
) -> None:
    """The validator used above is not a rubber stamp: retired API versions and typos fail."""
    hpa = load(rendered["default"] / "deploy" / "k8s" / "hpa.yaml")
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate({**hpa, "apiVersion": "autoscaling/v2beta1"}, KUBERNETES_VERSION, strict=True)
    deployment = load(rendered["default"] / "deploy" / "k8s" / "deployment.yaml")
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_yamllint_passes(rendered: dict[str, Path], option_set: str) -> None:
    """Every YAML file the delivery pipeline adds is clean under yamllint's default rules."""
    project = rendered[option_set]
    provider = answers_of(option_set)["ci_provider"]
    files = [str(p) for p in [*ci_files(project, provider), project / "compose.yaml", *(project / "deploy").rglob("*.yaml")]]
    check([tool("yamllint"), "--strict", "-d", YAMLLINT_CONFIG, *files], project)


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_shell_scripts_pass_shellcheck(rendered: dict[str, Path], option_set: str) -> None:
    """shellcheck finds nothing in the project's shell scripts, which are executable."""
    # scripts/dora/ is the DORA command, a Python package checked by the project's own tools.
    scripts = sorted(p for p in (rendered[option_set] / "scripts").iterdir() if p.is_file())
    assert scripts
    for script in scripts:
        assert script.stat().st_mode & 0o111, f"{script.name} is not executable"
    check([tool("shellcheck"), *map(str, scripts)], rendered[option_set])


# --- what the artifacts say, cross-checked against the service ----------------------------


def settings_fields(project: Path, package: str) -> set[str]:
    text = (project / "src" / package / "settings.py").read_text()
    return set(re.findall(r"^    (\w+): ", text, re.MULTILINE))


def routes(project: Path, package: str) -> set[str]:
    text = (project / "src" / package / "api" / "health.py").read_text()
    return set(re.findall(r'@router\.get\(\s*"([^"]+)"', text))


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_deployment_ports_probes_and_shutdown_match_the_service(rendered: dict[str, Path], option_set: str) -> None:
    """Ports, probe paths, settings names and the grace period agree with the service's code."""
    project = rendered[option_set]
    answers = answers_of(option_set)
    package, port = answers["package_name"], answers["http_port"]
    prefix = package.upper() + "_"
    k8s = project / "deploy" / "k8s"
    pod = load(k8s / "deployment.yaml")["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    paths = routes(project, package)
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"/livez", "/readyz"} <= paths

    config = load(k8s / "configmap.yaml")
    assert container["envFrom"] == [
        {"configMapRef": {"name": config["metadata"]["name"]}},
        {"secretRef": {"name": f"{config['metadata']['name'].removesuffix('-config')}-secrets"}},
    ]
    fields = settings_fields(project, package)
    for key in config["data"]:
        assert key.startswith(prefix) and key.removeprefix(prefix).lower() in fields, key
    data = config["data"]
    assert int(data[f"{prefix}PORT"]) == port
    assert data[f"{prefix}HOST"] == "0.0.0.0"

    # Kubernetes waits terminationGracePeriodSeconds in all, preStop included.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = float(data[f"{prefix}SHUTDOWN_DELAY"]) + float(data[f"{prefix}SHUTDOWN_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + drain

    assert container["resources"]["requests"] and container["resources"]["limits"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True

    labels = load(k8s / "deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    service = load(k8s / "service.yaml")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert load(k8s / "pdb.yaml")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = load(k8s / "hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == load(k8s / "deployment.yaml")["metadata"]["name"]


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_dockerfile_and_compose_match_the_service(rendered: dict[str, Path], option_set: str) -> None:
    """The image runs as a numeric non-root user, binds 0.0.0.0 on the service's port, via exec form."""
    project = rendered[option_set]
    answers = answers_of(option_set)
    package, port = answers["package_name"], answers["http_port"]
    prefix = package.upper() + "_"
    text = (project / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)
    runtime = stages[-1]
    assert runtime.startswith(f"python:{answers['python_version']}-slim-bookworm AS runtime")
    (user,) = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    assert re.search(rf"^\s+{prefix}HOST=0\.0\.0\.0 ", runtime, re.MULTILINE)
    assert re.search(rf"^\s+{prefix}PORT={port} ", runtime, re.MULTILINE)
    assert re.search(rf"^EXPOSE {port}$", runtime, re.MULTILINE)
    assert f'ENTRYPOINT ["python", "-m", "{package}"]' in runtime
    assert "uv" not in runtime.replace("/app/.venv", ""), "uv must not reach the runtime stage"
    assert "uv sync --locked" in stages[-2]
    for label in ("version", "revision", "created", "title"):
        assert f"org.opencontainers.image.{label}=" in runtime

    compose = load(project / "compose.yaml")
    app = compose["services"]["app"]
    assert app["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert app["environment"][f"{prefix}PORT"] == str(port)
    assert f"127.0.0.1:{port}/readyz" in " ".join(app["healthcheck"]["test"])
    ignored = (project / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)


@pytest.mark.parametrize("option_set", [n for n in OPTION_SETS if answers_of(n)["ci_provider"] == "github"])
def test_github_workflows_are_least_privilege_pinned_and_bounded(rendered: dict[str, Path], option_set: str) -> None:
    """No default permissions, SHA-pinned actions, a timeout on every job, a concurrency group."""
    project = rendered[option_set]
    package = answers_of(option_set)["package_name"]
    for path in ci_files(project, "github"):
        workflow = load(path)
        assert workflow["permissions"] == {}, path.name
        assert "group" in workflow["concurrency"], path.name
        for name, job in workflow["jobs"].items():
            assert isinstance(job["timeout-minutes"], int), (path.name, name)
            assert "permissions" in job, (path.name, name)
            for step in job["steps"]:
                if "uses" in step:
                    assert SHA_PIN.match(step["uses"]), step["uses"]
                if "actions/checkout" in step.get("uses", ""):
                    assert step["with"]["persist-credentials"] is False
    ci = load(project / ".github" / "workflows" / "ci.yml")
    assert ci["env"]["PACKAGE"] == package
    jobs = ci["jobs"]
    assert {"lint", "types", "test", "security", "image", "deploy"} <= jobs.keys()
    caches = [s["with"].get("enable-cache") for j in jobs.values() for s in j["steps"] if "setup-uv" in s.get("uses", "")]
    assert True in caches
    deploy = jobs["deploy"]
    assert "refs/heads/main" in deploy["if"]
    assert set(deploy["needs"]) == {"lint", "types", "test", "security", "image"}
    assert set(deploy["permissions"]) == {"contents", "packages"}
    assert any("scripts/record-deployment" in s.get("run", "") for s in deploy["steps"])
    assert any("dora report" in s.get("run", "") for s in deploy["steps"])
    security = " ".join(s.get("run", "") for s in jobs["security"]["steps"])
    assert "bandit" in security and "uv audit --locked" in security


@pytest.mark.parametrize("option_set", [n for n in OPTION_SETS if answers_of(n)["ci_provider"] == "gitlab"])
def test_gitlab_pipeline_has_every_stage_bounded(rendered: dict[str, Path], option_set: str) -> None:
    """Every GitLab job has a timeout; deploy and its record run only on the default branch."""
    pipeline = load(rendered[option_set] / ".gitlab-ci.yml")
    reserved = {"workflow", "stages", "variables", "default", "include"}
    jobs = {k: v for k, v in pipeline.items() if k not in reserved and not k.startswith(".")}
    assert {"lint", "types", "security", "batch-size", "test", "build-image", "deploy", "record-deployment"} <= jobs.keys()
    assert pipeline["default"]["timeout"]
    for name, job in jobs.items():
        assert "timeout" in job, name
    for name in ("deploy", "record-deployment"):
        assert "$CI_DEFAULT_BRANCH" in jobs[name]["rules"][0]["if"]
    assert "scripts/record-deployment" in "\n".join(jobs["record-deployment"]["script"])
    assert pipeline["default"]["cache"]["paths"] == [".uv-cache"]


# --- the batch-size check -----------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, check=True, capture_output=True,
    )


def test_batch_size_check_counts_lines_but_not_generated_files(rendered: dict[str, Path], tmp_path: Path) -> None:
    """Over the limit fails with advice; files marked generated (uv.lock) are not counted."""
    project = rendered["default"]
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(project / ".gitattributes", repo / ".gitattributes")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    (repo / "uv.lock").write_text("x\n" * 5000)
    (repo / "a.py").write_text("a = 1\n" * 30)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "small change plus a big lock file")
    script = str(project / "scripts" / "check-batch-size")
    env = {"PATH": "/usr/bin:/bin", "MAX_CHANGED_LINES": "50"}
    ok = subprocess.run([script, "main"], cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "changed lines: 30 (limit 50)" in ok.stdout
    assert "uv.lock" in ok.stdout
    (repo / "b.py").write_text("b = 2\n" * 21)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one more file")
    big = subprocess.run([script, "main"], cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert big.returncode == 1
    assert "changed lines: 51 (limit 50)" in big.stdout
    assert "large-change" in big.stderr
    bad = subprocess.run([script, "main"], cwd=repo, env={**env, "MAX_CHANGED_LINES": "many"}, capture_output=True, text=True, check=False)
    assert bad.returncode == 2
