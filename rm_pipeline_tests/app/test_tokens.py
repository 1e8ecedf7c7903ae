"""Access tokens: issued and verified; tampered, expired and wrong-algorithm tokens refused."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt
import pytest

from rm_pipeline.app.clock import utc_now
from rm_pipeline.app.errors import AuthenticationFailed, ConfigurationError
from rm_pipeline.app.tokens import AccessTokens
from rm_pipeline_tests.app.conftest import JWT_SECRET, make_settings

USER = uuid.UUID("6f1c1c4e-8f7a-4d59-9d3b-2f0f5c8c2a11")
TOKENS = AccessTokens(JWT_SECRET, timedelta(minutes=60))


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: object) -> dict[str, object]:
    now = int(utc_now().timestamp())
    return {"sub": str(USER), "typ": "access", "iat": now, "exp": now + 3600, **overrides}


def test_a_token_carries_its_user_id_and_expiry() -> None:
    token = TOKENS.issue(USER)
    payload = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])

    assert TOKENS.verify(token) == USER
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert payload["exp"] - payload["iat"] == 3600


def test_a_token_with_a_swapped_payload_is_refused() -> None:
    header, _, signature = TOKENS.issue(USER).split(".")
    forged = f"{header}.{b64(claims(sub=str(uuid.uuid4())))}.{signature}"
    with pytest.raises(AuthenticationFailed, match="not valid"):
        TOKENS.verify(forged)


def test_a_token_with_a_changed_signature_is_refused() -> None:
    header, payload, signature = TOKENS.issue(USER).split(".")
    changed = signature[:10] + ("B" if signature[10] == "A" else "A") + signature[11:]
    with pytest.raises(AuthenticationFailed, match="not valid"):
        TOKENS.verify(f"{header}.{payload}.{changed}")


def test_an_expired_token_is_refused() -> None:
    issued_two_hours_ago = AccessTokens(
        JWT_SECRET, timedelta(minutes=60), clock=lambda: utc_now() - timedelta(hours=2)
    )
    with pytest.raises(AuthenticationFailed, match="expired"):
        TOKENS.verify(issued_two_hours_ago.issue(USER))


def test_an_unsigned_alg_none_token_is_refused() -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    assert jwt.decode(unsigned, options={"verify_signature": False})["sub"] == str(USER)
    with pytest.raises(AuthenticationFailed, match="not valid"):
        TOKENS.verify(unsigned)


@pytest.mark.parametrize(
    ("secret", "algorithm"),
    [(JWT_SECRET, "HS512"), ("another-secret-" + "x" * 64, "HS256")],
)
def test_tokens_signed_another_way_are_refused(secret: str, algorithm: str) -> None:
    token = jwt.encode(claims(), secret, algorithm=algorithm)
    with pytest.raises(AuthenticationFailed, match="not valid"):
        TOKENS.verify(token)


@pytest.mark.parametrize(
    "payload",
    [
        claims(typ="refresh"),
        claims(sub="not-a-uuid"),
        {k: v for k, v in claims().items() if k != "exp"},
    ],
    ids=["not-access", "bad-subject", "no-expiry"],
)
def test_correctly_signed_tokens_with_wrong_claims_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(AuthenticationFailed):
        TOKENS.verify(jwt.encode(payload, JWT_SECRET, algorithm="HS256"))


def test_the_secret_comes_from_settings_and_stays_out_of_reprs() -> None:
    tokens = AccessTokens.from_settings(make_settings(jwt_ttl_minutes=5))
    assert tokens.ttl == timedelta(minutes=5)
    assert JWT_SECRET not in repr(tokens)
    with pytest.raises(ConfigurationError, match="RM_JWT_SECRET is not set"):
        AccessTokens.from_settings(make_settings(jwt_secret=None))
