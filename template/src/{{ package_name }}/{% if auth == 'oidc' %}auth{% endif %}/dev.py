"""Development tokens: a local signing key, made on first use, and ``dev-token`` to mint them.

The key is a file (``AUTH_DEV_KEY_FILE``, under ``.dev-keys/``, which git ignores) rather than
derived from a known seed: a key everyone could derive would sign for anyone wherever it is
trusted. It is trusted in development and test only (``APP_ENV``), whatever the settings say.
"""

import argparse
import contextlib
import hashlib
import os
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import ValidationError

from ..settings import Settings, get_settings

__all__ = ["DEV_ISSUER", "dev_key", "dev_token", "dev_token_command", "trusts_dev_key"]

DEV_ISSUER = "urn:dev-token"


def trusts_dev_key(settings: Settings) -> bool:
    """Whether tokens the dev key signs are accepted: in development and test only."""
    return settings.app_env in {"development", "test"}


def _private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():  # first use: write aside, then link, so racing processes share one
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        draft.write_bytes(pem)
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{path} is not an EC private key")
    return key


def dev_key(path: Path) -> tuple[str, jwt.PyJWK]:
    """The dev key's kid and public JWK (the key is created on first use)."""
    public = _private_key(path).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = "dev-" + hashlib.sha256(der).hexdigest()[:16]
    return kid, jwt.PyJWK.from_dict({**ECAlgorithm.to_jwk(public, as_dict=True), "alg": "ES256"})


def dev_token(
    key_file: Path, audience: str, scopes: list[str], *, subject: str = "dev", ttl: float = 3600
) -> str:
    """A token signed by the dev key in ``key_file``, for ``audience``."""
    kid, _ = dev_key(key_file)
    now = int(time.time())
    claims: dict[str, object] = {"iss": DEV_ISSUER, "aud": audience, "sub": subject}
    claims |= {"iat": now, "nbf": now, "exp": now + int(ttl), "scope": " ".join(scopes)}
    return jwt.encode(claims, _private_key(key_file), algorithm="ES256", headers={"kid": kid})


def dev_token_command(argv: list[str]) -> int:
    """``dev-token --scope items:write``: print a token the service trusts in development."""
    parser = argparse.ArgumentParser(prog=f"{__package__} dev-token", description=__doc__)
    parser.add_argument("--scope", action="append", default=[], help="repeat, or space-separated")
    parser.add_argument("--subject", default="dev")
    parser.add_argument("--ttl", type=float, default=3600, help="seconds the token is valid")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        parser.error(f"invalid settings: {exc.error_count()} error(s); `serve` names them")
    if not trusts_dev_key(settings):
        parser.error(f"APP_ENV={settings.app_env}: the dev key is trusted in development and test")
    scopes = [scope for given in args.scope for scope in given.split()]
    key_file, audience = settings.auth_dev_key_file, settings.auth_audience
    print(dev_token(key_file, audience, scopes, subject=args.subject, ttl=args.ttl))
    return 0
