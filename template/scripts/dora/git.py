"""Read commit times from the git history (the ``git`` executable, no extra dependency)."""

import shutil
import subprocess  # nosec B404
from datetime import UTC, datetime
from pathlib import Path

from .log import COMMIT

__all__ = ["GitError", "GitHistory", "UnknownCommitError"]


class GitError(RuntimeError):
    """git failed, or a commit named by the deployment log is not in the history."""


class UnknownCommitError(GitError, LookupError):
    """A commit named by the deployment log is not in the history."""


class GitHistory:
    """Commits of one repository, as needed for lead time for changes."""

    def __init__(self, repo: Path) -> None:
        git = shutil.which("git")
        if git is None:
            raise GitError("git is not installed")
        self._git = git
        self._repo = repo

    def _run(self, *args: str) -> str:
        # Fixed executable and subcommands; every commit argument is checked against COMMIT,
        # so nothing from the log can become an option (bandit B404/B603 reviewed).
        result = subprocess.run(  # noqa: S603  # nosec B603
            [self._git, "-C", str(self._repo), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise GitError(result.stderr.strip() or f"git {args[0]} failed")
        return result.stdout

    def resolve(self, commit: str) -> str:
        """The full SHA of a commit; GitError when the history does not have it."""
        if not COMMIT.match(commit):
            raise UnknownCommitError(f"{commit!r} is not a git SHA")
        try:
            return self._run("rev-parse", "--verify", "--quiet", commit + "^{commit}").strip()
        except GitError:
            raise UnknownCommitError(
                f"commit {commit} is not in the git history of {self._repo} "
                "(in CI, fetch the full history: fetch-depth 0 / GIT_DEPTH 0)"
            ) from None

    def commit_times(self, commit: str, since: str | None) -> dict[str, datetime]:
        """Commit time of every commit in ``commit`` and not in ``since`` (all when None)."""
        revisions = [self.resolve(commit)]
        if since is not None:
            revisions.append("^" + self.resolve(since))
        out = self._run("log", "--format=%H %ct", *revisions, "--")
        times: dict[str, datetime] = {}
        for line in out.splitlines():
            sha, _, stamp = line.partition(" ")
            times[sha] = datetime.fromtimestamp(int(stamp), tz=UTC)
        return times
