"""Verification keys from configuration, prepared once per algorithm."""

from __future__ import annotations

import logging
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt import PyJWTError
from jwt.algorithms import get_default_algorithms

from services.gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)


def static_keys(settings: GatewaySettings) -> dict[str, Any]:
    """Map each configured algorithm to the key it verifies with.

    HS* algorithms use `jwt_secret`; RS*/ES* use the PEM in `jwt_public_key`
    (literal `\\n` sequences, as environment variables often carry them, are
    read as newlines). An algorithm the key cannot serve (RS256 with an EC key,
    ES384 with a P-256 key) is left out, so a token naming it is refused.

    Args:
        settings: the gateway settings; not for a JWKS-only configuration.

    Returns:
        Algorithm name to prepared key; never empty.

    Raises:
        ValueError: no configured algorithm can use the key, or the PEM holds a
            private key.
    """
    hs = settings.jwt_algorithms[0].startswith("HS")
    material = settings.jwt_secret if hs else settings.jwt_public_key.replace("\\n", "\n")
    algorithms = get_default_algorithms()
    keys: dict[str, Any] = {}
    for name in settings.jwt_algorithms:
        try:
            key = algorithms[name].prepare_key(material)
        except (PyJWTError, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if isinstance(key, (RSAPrivateKey, EllipticCurvePrivateKey)):
            raise ValueError("jwt_public_key holds a private key; configure the public key only")
        if weakness := algorithms[name].check_key_length(key):
            logger.warning("%s: %s", name, weakness)
        keys[name] = key
    if not keys:
        source = "jwt_secret" if hs else "jwt_public_key"
        raise ValueError(f"{source} cannot be used with jwt_algorithms {settings.jwt_algorithms}")
    return keys
