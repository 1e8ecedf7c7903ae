"""The errors the service layer raises, each with a message meant for people."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError


class AppError(Exception):
    """Base of every error the service layer reports to its callers."""


class InvalidInput(AppError):
    """The request itself is wrong (bad phone number, allocation out of range, ...)."""


class NotFound(AppError):
    """No such row, or not one the acting user may see."""


class Conflict(AppError):
    """The request clashes with stored state (duplicate, illegal status transition, ...)."""


class AuthenticationFailed(AppError):
    """A verification code or access token was refused."""


class TooManyRequests(AppError):
    """Asked again too soon (verification codes are rate-limited per phone number)."""


class ConfigurationError(AppError):
    """A required setting is missing or unusable."""


def required_secret(value: SecretStr | None, env_var: str) -> str:
    """The secret's plaintext, or a `ConfigurationError` naming the variable that must be set."""
    if value is None or not value.get_secret_value().strip():
        raise ConfigurationError(f"{env_var} is not set; this operation needs it")
    return value.get_secret_value()


def violated_constraint(exc: IntegrityError) -> str | None:
    """Name of the constraint PostgreSQL reported, when it reported one."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)
