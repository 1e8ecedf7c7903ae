"""JWT access tokens: HS256, signed with `RM_JWT_SECRET`, subject = the user's id.

Only HS256 is accepted when decoding, so a token claiming another algorithm (`none` included) is
refused before its signature is even looked at. Expiry is checked by PyJWT against the real time;
the injectable clock only dates the tokens it issues.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from rm_pipeline.app.clock import Clock, utc_now
from rm_pipeline.app.errors import AuthenticationFailed, ConfigurationError, required_secret
from rm_pipeline.settings import Settings

ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32
TOKEN_TYPE = "access"


@dataclass(frozen=True, repr=False)
class AccessTokens:
    """Issues and checks access tokens; `repr=False` keeps the secret out of reprs."""

    secret: str
    ttl: timedelta
    clock: Clock = utc_now

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"RM_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters long"
            )

    def __repr__(self) -> str:
        return f"AccessTokens(ttl={self.ttl})"

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> AccessTokens:
        return cls(
            secret=required_secret(settings.jwt_secret, "RM_JWT_SECRET"),
            ttl=timedelta(minutes=settings.jwt_ttl_minutes),
            clock=clock,
        )

    def issue(self, user_id: uuid.UUID) -> str:
        issued_at = self.clock()
        claims = {
            "sub": str(user_id),
            "typ": TOKEN_TYPE,
            "iat": issued_at,
            "exp": issued_at + self.ttl,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> uuid.UUID:
        """The user id the token was issued to; `AuthenticationFailed` for any bad token."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationFailed("the access token has expired; verify again") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed("the access token is not valid") from exc
        if claims.get("typ") != TOKEN_TYPE:
            raise AuthenticationFailed("the token is not an access token")
        try:
            return uuid.UUID(claims["sub"])
        except ValueError as exc:
            raise AuthenticationFailed("the access token is not valid") from exc
