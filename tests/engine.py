"""A Docker engine and stand-in base images for the container tier, made on this machine.

Base images cannot be pulled here, so the images the generated Dockerfile names are built
locally and cached in the engine's own data root:

- ``python:<version>-slim-bookworm``: a Debian bookworm ``debootstrap --variant=minbase`` root
  (cached as a tarball) plus a CPython of that version from this machine installed under
  ``/usr/local``, as in the official image, and this machine's CA bundle (so uv reaches PyPI
  through the TLS-terminating egress proxy);
- ``ghcr.io/astral-sh/uv:<version>``: ``/uv`` and ``/uvx`` from the uv that runs these tests.

The engine is Debian's ``docker.io`` started by hand (no bridge, no iptables); builds and
containers use the host network. Everything runs as root, as CI does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOCKET = Path("/run/shipshape-docker/docker.sock")
DATA_ROOT = Path("/var/lib/shipshape-docker")
BASE_TARBALL = Path("/var/cache/shipshape/bookworm-minbase.tar")
MIRROR = "http://deb.debian.org/debian"
STAND_IN_LABEL = "org.shipshape.stand-in"
# What CPython's extension modules link against, as in the official slim images.
RUNTIME_PACKAGES = (
    "libssl3", "libffi8", "libexpat1", "libsqlite3-0", "libreadline8", "libncursesw6",
    "libbz2-1.0", "liblzma5", "zlib1g", "libuuid1", "netbase", "tzdata",
)


class EngineUnavailable(RuntimeError):
    """The container engine cannot run here; the message says why."""


def docker_cli() -> str:
    """Debian's docker client (it has BuildKit built in; a bare newer client needs buildx)."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    raise EngineUnavailable("no docker client: apt-get install docker.io (.ci/run does this)")


def docker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env.update(DOCKER_HOST=f"unix://{SOCKET}", DOCKER_BUILDKIT="1")
    return env


def docker(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the docker client against our engine."""
    result = subprocess.run(
        [docker_cli(), *args], env=docker_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def _engine_answers() -> bool:
    try:
        return docker("version", "--format", "{{.Server.Version}}", timeout=10, check=False).returncode == 0
    except (subprocess.TimeoutExpired, EngineUnavailable):
        return False


def start_engine(log: Path) -> subprocess.Popen[bytes] | None:
    """Start dockerd unless ours already answers; returns the process we started (or None)."""
    if SOCKET.exists() and _engine_answers():
        return None
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not Path(dockerd).exists():
        raise EngineUnavailable("dockerd is not installed: apt-get install docker.io (.ci/run does this)")
    if os.geteuid() != 0:
        raise EngineUnavailable("starting dockerd needs root")
    SOCKET.parent.mkdir(parents=True, exist_ok=True)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                dockerd,
                f"--host=unix://{SOCKET}",
                f"--data-root={DATA_ROOT}",
                f"--exec-root={SOCKET.parent / 'exec'}",
                f"--pidfile={SOCKET.parent / 'dockerd.pid'}",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(f"dockerd exited {process.returncode}: {log.read_text()[-3000:]}")
        if _engine_answers():
            return process
        time.sleep(0.5)
    process.terminate()
    raise EngineUnavailable(f"dockerd did not answer within 60 s: {log.read_text()[-3000:]}")


def stop_engine(process: subprocess.Popen[bytes] | None) -> None:
    """Stop the dockerd we started (by its process id)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name, check=False, timeout=30).returncode == 0


def _debootstrap_tarball() -> Path:
    """The bookworm minbase root as a tarball, made once (about 30 s) and cached."""
    if BASE_TARBALL.is_file():
        return BASE_TARBALL
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        raise EngineUnavailable("debootstrap is not installed: apt-get install debootstrap (.ci/run does this)")
    BASE_TARBALL.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shipshape-rootfs-") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={','.join(RUNTIME_PACKAGES)}", "bookworm", str(root), MIRROR],
            check=True, capture_output=True, timeout=900,
        )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(root / junk, ignore_errors=True)
        partial = BASE_TARBALL.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True, timeout=300)
        partial.rename(BASE_TARBALL)
    return BASE_TARBALL


def _python_prefix(version: str) -> Path:
    """A CPython ``version`` on this machine whose tree can move under /usr/local."""
    roots = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*"), reverse=True)
    roots += [Path(sys.base_prefix)] if sys.version.startswith(version + ".") else []
    for root in roots:
        if (root / "bin" / f"python{version}").exists() and (root / "lib" / f"python{version}" / "os.py").exists():
            return root
    raise EngineUnavailable(f"no relocatable CPython {version} on this machine for the stand-in base image")


def build_python_stand_in(version: str) -> str:
    """Build (once) the stand-in for ``python:<version>-slim-bookworm``."""
    name = f"python:{version}-slim-bookworm"
    if image_exists(name):
        return name
    base = "shipshape/bookworm-minbase:stand-in"
    if not image_exists(base):
        docker("import", str(_debootstrap_tarball()), base, timeout=600)
    prefix = _python_prefix(version)
    with tempfile.TemporaryDirectory(prefix="shipshape-python-") as tmp:
        context = Path(tmp)
        tree = context / "local"
        (tree / "bin").mkdir(parents=True)
        (tree / "lib").mkdir()
        shutil.copy2(prefix / "bin" / f"python{version}", tree / "bin")
        for lib in (prefix / "lib").glob("libpython*.so*"):
            shutil.copy2(lib, tree / "lib", follow_symlinks=False)
        skip = shutil.ignore_patterns(
            "test", "tests", "idlelib", "tkinter", "turtledemo", "config-*", "__pycache__", "site-packages"
        )
        shutil.copytree(prefix / "lib" / f"python{version}", tree / "lib" / f"python{version}", ignore=skip)
        (tree / "lib" / f"python{version}" / "site-packages").mkdir()
        shutil.copy2("/etc/ssl/certs/ca-certificates.crt", context / "ca-certificates.crt")
        (context / "Dockerfile").write_text(
            f"FROM {base}\n"
            "COPY local /usr/local\n"
            "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
            f"RUN ldconfig && ln -s python{version} /usr/local/bin/python3 "
            f"&& ln -s python{version} /usr/local/bin/python\n"
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \\\n"
            # uv trusts its own root list; here it must trust the egress proxy in the bundle.
            "    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n"
            f'LABEL {STAND_IN_LABEL}="debootstrap bookworm minbase + CPython {version} from this machine"\n'
            'CMD ["python3"]\n'
        )
        docker("build", "--network=host", "-t", name, str(context), timeout=600)
    return name


def build_uv_stand_in(dockerfile: Path) -> str:
    """Build (once) the stand-in for the uv image the Dockerfile copies uv from."""
    match = re.search(r"^FROM (ghcr\.io/astral-sh/uv:\S+)", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError("the Dockerfile does not name a ghcr.io/astral-sh/uv image")
    name = match.group(1)
    if image_exists(name):
        return name
    uv = Path(sys.executable).with_name("uv")
    with tempfile.TemporaryDirectory(prefix="shipshape-uv-") as tmp:
        context = Path(tmp)
        shutil.copy2(uv, context / "uv")
        uvx = uv.with_name("uvx")
        shutil.copy2(uvx if uvx.exists() else uv, context / "uvx")
        (context / "Dockerfile").write_text(
            f'FROM scratch\nCOPY uv uvx /\nLABEL {STAND_IN_LABEL}="uv from the template\'s dev tools"\n'
        )
        docker("build", "-t", name, str(context), timeout=300)
    return name
