"""The sandbox identity's signing key: RS256 JWTs and the JWKS that verifies them, as identity.xero.com publishes.

OpenID clients (xero-node's openid-client, for one) read /.well-known/openid-configuration, fetch the JWKS and check
the id_token's signature and issuer, so tokens must be real RS256 JWTs. One 2048-bit key is made per process, on
first use: generating one per sandbox would slow every test that starts a sandbox, and nothing outside the process
ever trusts it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs, JWKs and PKCE challenges write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@functools.cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def jwk() -> dict[str, str]:
    """The public key as a JWK, with a kid derived from its modulus."""
    numbers = _key().public_key().public_numbers()
    n = b64url(_int_bytes(numbers.n))
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": hashlib.sha256(n.encode()).hexdigest()[:32].upper(),
        "e": b64url(_int_bytes(numbers.e)),
        "n": n,
    }


def jwks() -> dict[str, list[dict[str, str]]]:
    return {"keys": [jwk()]}


def sign_jwt(claims: Mapping[str, object]) -> str:
    """A compact RS256 JWS of `claims`."""
    header = {"alg": "RS256", "kid": jwk()["kid"], "typ": "JWT"}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, dict(claims))
    )
    signature = _key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"
