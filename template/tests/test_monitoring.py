"""The Prometheus Operator resource carries exactly the rule groups of the Prometheus rule file."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "monitoring" / "slo-rules.yml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "prometheusrule.yaml"


def rule_groups(text: str) -> list[str]:
    """The lines from ``groups:`` on, without comment-only lines."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "groups:")
    return [line for line in lines[start:] if not line.lstrip().startswith("#")]


def test_prometheusrule_holds_the_rule_files_groups() -> None:
    """deploy/k8s/prometheusrule.yaml's spec is slo-rules.yml's groups, indented under spec."""
    spec = PROMETHEUS_RULE.read_text(encoding="utf-8").split("\nspec:\n", 1)[1]
    indented = [line.removeprefix("  ") for line in spec.splitlines()]
    assert rule_groups("\n".join(indented)) == rule_groups(RULES.read_text(encoding="utf-8")), (
        "deploy/k8s/prometheusrule.yaml differs from deploy/monitoring/slo-rules.yml: copy the "
        "groups over (indented two spaces under spec:)"
    )
