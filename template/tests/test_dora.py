"""DORA metrics on a synthetic git history and deployment log with known answers."""

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scripts.dora import Band, LogError, Metric, compute, read_log
from scripts.dora.cli import main
from scripts.dora.git import GitHistory

END = "2026-11-30T00:00:00Z"

# (commit message, commit time); deployments below name commits by message.
COMMITS = [
    ("c0", "2026-10-01T08:00:00Z"),
    ("c1", "2026-11-01T08:00:00Z"),
    ("c2", "2026-11-02T09:00:00Z"),
    ("c3", "2026-11-02T11:00:00Z"),
    ("c4", "2026-11-02T12:30:00Z"),
    ("c5", "2026-11-05T10:00:00Z"),
]
# (deployed commit, time, environment, status). Known answers, 30 days to END:
#   production deployments in the window: 4 -> 4/30 per day (medium);
#   lead times c1 2h, c2 3h, c3 1h, c4 0.5h, c5 24h -> median 2h (elite), c0 is before the window;
#   change failure rate 1/4 (low); time to restore 1h, from 12:00 to 13:00 (high).
DEPLOYMENTS = [
    ("c0", "2026-10-02T08:00:00Z", "production", "success"),
    ("c1", "2026-11-01T10:00:00Z", "production", "success"),
    ("c1", "2026-11-01T09:00:00Z", "staging", "failure"),
    ("c3", "2026-11-02T12:00:00Z", "production", "failure"),
    ("c4", "2026-11-02T13:00:00Z", "production", "restored"),
    ("c5", "2026-11-06T10:00:00Z", "production", "success"),
]


def _git(repo: Path, *args: str, when: str | None = None) -> str:
    git = shutil.which("git")
    assert git is not None
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo)}
    if when:
        env |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    result = subprocess.run(
        [git, "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(name="history")
def _history(tmp_path: Path) -> tuple[Path, Path]:
    """A repository with the commits above and a log of the deployments above."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    shas: dict[str, str] = {}
    for message, when in COMMITS:
        _git(repo, "commit", "-q", "--allow-empty", "-m", message, when=when)
        shas[message] = _git(repo, "rev-parse", "HEAD")
    log = tmp_path / "deployments.jsonl"
    lines = [
        json.dumps({"time": t, "commit": shas[c], "environment": e, "status": s})
        for c, t, e, s in DEPLOYMENTS
    ]
    log.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return repo, log


def _metrics(history: tuple[Path, Path], environment: str) -> tuple[int, dict[str, Metric]]:
    repo, log = history
    end = datetime(2026, 11, 30, tzinfo=UTC)
    times = GitHistory(repo).commit_times
    report = compute(read_log(log), times, environment=environment, end=end, days=30)
    return report.deployments, {m.name: m for m in report.metrics}


def test_metrics_match_the_known_answers(history: tuple[Path, Path]) -> None:
    """The four metrics and their bands come out as worked out by hand."""
    deployments, metrics = _metrics(history, "production")
    assert deployments == 4
    assert metrics["deployment_frequency"].value == pytest.approx(4 / 30)
    assert metrics["deployment_frequency"].band is Band.MEDIUM
    assert metrics["lead_time_for_changes"].value == pytest.approx(2 * 3600)
    assert metrics["lead_time_for_changes"].detail == "median of 5 commits"
    assert metrics["lead_time_for_changes"].band is Band.ELITE
    assert metrics["change_failure_rate"].value == pytest.approx(0.25)
    assert metrics["change_failure_rate"].band is Band.LOW
    assert metrics["time_to_restore_service"].value == pytest.approx(3600)
    assert metrics["time_to_restore_service"].band is Band.HIGH


def test_other_environments_are_reported_separately(history: tuple[Path, Path]) -> None:
    """Deployments to staging count only for staging."""
    deployments, metrics = _metrics(history, "staging")
    assert deployments == 1
    assert metrics["change_failure_rate"].value == 1.0
    assert metrics["time_to_restore_service"].value is None
    assert "not restored yet" in metrics["time_to_restore_service"].detail


def test_command_prints_json_and_a_table(
    history: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`report --json` prints the report as JSON; without it, a table with the bands."""
    repo, log = history
    common = ["report", "--log", str(log), "--repo", str(repo), "--end", END]
    assert main([*common, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["deployments"] == 4
    assert {k: v["band"] for k, v in data["metrics"].items()} == {
        "deployment_frequency": "medium",
        "lead_time_for_changes": "elite",
        "change_failure_rate": "low",
        "time_to_restore_service": "high",
    }
    assert main(common) == 0
    table = capsys.readouterr().out
    assert "| change failure rate      | 25.0 %         | low    | 1 of 4 deployments" in table
    assert "| lead time for changes    | 2.0 h          | elite  |" in table


GOOD = {
    "time": "2026-11-01T10:00:00Z",
    "commit": "abcdef1",
    "environment": "p",
    "status": "success",
}


def _line(**changes: object) -> str:
    """A log line: GOOD with ``changes`` applied (a value of None removes the key)."""
    data = {**GOOD, **changes}
    return json.dumps({key: value for key, value in data.items() if value is not None})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (_line(environment=None), "missing 'environment'"),
        (_line(time="2026-11-01T10:00:00"), "has no timezone"),
        (_line(time="yesterday"), "is not ISO 8601"),
        (_line(time=1700000000), "must be an ISO 8601 string"),
        (_line(commit="--all"), "is not a git SHA"),
        (_line(environment="prod env"), "is not a name"),
        (_line(status="ok"), "'status' 'ok' is not one of"),
        (_line(x=1), "unknown key 'x'"),
    ],
)
def test_malformed_lines_are_refused_with_their_line_number(
    tmp_path: Path, line: str, message: str
) -> None:
    """A bad line is an error naming the file, the line number and what is wrong."""
    log = tmp_path / "deployments.jsonl"
    log.write_text(f"{_line()}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(LogError) as error:
        read_log(log)
    assert f"{log}:3: " in str(error.value)
    assert message in str(error.value)


def test_command_reports_bad_lines_and_unknown_commits(
    history: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The command exits 2 with the line named, for a bad line and for a commit git lacks."""
    repo, log = history
    with log.open("a", encoding="utf-8") as out:
        out.write(_line(time="2026-11-07T10:00:00Z", commit="1234567", environment="production"))
    assert main(["report", "--log", str(log), "--repo", str(repo), "--end", END]) == 2
    error = capsys.readouterr().err
    assert "deployment log line 8: commit 1234567 is not in the git history" in error
    log.write_text("oops\n", encoding="utf-8")
    assert main(["report", "--log", str(log), "--repo", str(repo)]) == 2
    assert f"{log}:1: not valid JSON" in capsys.readouterr().err
    assert main(["report", "--log", str(log.with_name("missing.jsonl"))]) == 2
    assert "deployment log not found" in capsys.readouterr().err


def test_record_appends_and_marks_a_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`record` appends a line; a success right after a failure is written as restored."""
    log = tmp_path / "log" / "deployments.jsonl"
    base = ["record", "--log", str(log), "--commit", "abcdef1"]
    assert main([*base, "--status", "failure", "--time", "2026-11-01T10:00:00Z"]) == 0
    assert main([*base, "--status", "success", "--time", "2026-11-01T11:00:00+01:00"]) == 0
    assert main([*base, "--status", "success", "--time", "2026-11-01T12:00:00Z"]) == 0
    capsys.readouterr()
    statuses = [(d.status, d.time.isoformat()) for d in read_log(log)]
    assert statuses == [
        ("failure", "2026-11-01T10:00:00+00:00"),
        ("restored", "2026-11-01T10:00:00+00:00"),
        ("success", "2026-11-01T12:00:00+00:00"),
    ]


@pytest.mark.slow
def test_ci_script_keeps_the_log_on_its_own_branch(tmp_path: Path) -> None:
    """scripts/record-deployment appends to the log branch of a remote, creating it first."""
    uv, bash = os.environ.get("UV") or shutil.which("uv"), shutil.which("bash")
    if uv is None or bash is None:
        pytest.fail("uv and bash must be on PATH (the CI deploy job has both)")
    project = Path(__file__).resolve().parent.parent
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    copy = tmp_path / "copy.jsonl"
    env = {
        "PATH": str(Path(uv).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "COMMIT": "abcdef1",
        "DEPLOY_LOG_REMOTE": str(remote),
        "DEPLOY_LOG_COPY": str(copy),
    }
    for status in ("failure", "success"):
        subprocess.run(
            [bash, str(project / "scripts" / "record-deployment"), status],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
        )
    assert [d.status for d in read_log(copy)] == ["failure", "restored"]
    log = _git(remote, "log", "--format=%s", "deployments")
    assert log.splitlines() == [
        "Deploy abcdef1 to production: restored",
        "Deploy abcdef1 to production: failure",
    ]
