"""`rm-pipeline users ...`: register, verify, who am I, deactivate, delete.

Also what the `trades` and `brokers` groups share: `AppGroup`, which turns the service layer's
errors into clean command-line errors, and the `--token` option with its `RM_ACCESS_TOKEN` fallback.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import click

from rm_pipeline.app.errors import AppError
from rm_pipeline.app.users import UserService
from rm_pipeline.db.engine import get_engine

TOKEN_VARIABLE = "RM_ACCESS_TOKEN"

Command = TypeVar("Command", bound=Callable[..., Any])


class AppGroup(click.Group):
    """A command group whose commands report `AppError`s as one-line errors, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AppError as exc:
            raise click.ClickException(str(exc)) from exc


def token_option(command: Command) -> Command:
    """`--token`, falling back to `RM_ACCESS_TOKEN` (which keeps it out of shell history)."""
    return click.option(
        "--token",
        envvar=TOKEN_VARIABLE,
        required=True,
        help=f"Access token from `users verify` (or set {TOKEN_VARIABLE}, which keeps it out of "
        "shell history).",
    )(command)


def user_service() -> UserService:
    return UserService(get_engine())


def authenticated(token: str) -> uuid.UUID:
    """The id of the token's user, or a click error."""
    return user_service().authenticate(token)


@click.group(cls=AppGroup)
def users() -> None:
    """Users: phone registration, verification codes and access tokens.

    Codes are printed to the console here (production sends them by SMS). Needs
    RM_VERIFICATION_PEPPER for codes and RM_JWT_SECRET for tokens.
    """


@users.command()
@click.argument("phone")
@click.option("--email", help="Email address (unique).")
@click.option("--name", "full_name", help="Full name.")
def register(phone: str, email: str | None, full_name: str | None) -> None:
    """Register PHONE (international format, e.g. +14155550100) and send it a verification code."""
    user = user_service().register(phone, email=email, full_name=full_name)
    click.echo(f"registered {user.phone_number} as user {user.id}")
    click.echo(f"verify with: rm-pipeline users verify {user.phone_number} CODE")


@users.command("send-code")
@click.argument("phone")
def send_code(phone: str) -> None:
    """Send PHONE a new verification code (to log in again, or after the last one expired)."""
    user_service().send_code(phone)


@users.command()
@click.argument("phone")
@click.argument("code")
def verify(phone: str, code: str) -> None:
    """Check the CODE sent to PHONE and print an access token (the last line of output).

    The code expires after 10 minutes and survives 5 wrong attempts.
    """
    click.echo(user_service().verify(phone, code))


@users.command()
@click.argument("token", envvar=TOKEN_VARIABLE)
def whoami(token: str) -> None:
    """Show the user TOKEN belongs to (TOKEN may come from RM_ACCESS_TOKEN instead)."""
    service = user_service()
    user = service.get(service.authenticate(token))
    click.echo(f"user {user.id}")
    click.echo(f"  phone:      {user.phone_number}")
    click.echo(f"  email:      {user.email or '-'}")
    click.echo(f"  name:       {user.full_name or '-'}")
    last_login = f"{user.last_login:%Y-%m-%d %H:%M:%S} UTC" if user.last_login else "-"
    click.echo(f"  last login: {last_login}")


@users.command()
@click.argument("phone")
def deactivate(phone: str) -> None:
    """Deactivate the user with PHONE: its tokens and codes are refused, its data stays."""
    service = user_service()
    user = service.find_by_phone(phone)
    service.deactivate(user.id)
    click.echo(f"deactivated user {user.id} ({user.phone_number})")


@users.command()
@click.argument("phone")
@click.confirmation_option(prompt="Delete this user with all its trades and broker connections?")
def delete(phone: str) -> None:
    """Delete the user with PHONE and everything it owns (trades, portfolios, connections)."""
    service = user_service()
    user = service.find_by_phone(phone)
    service.delete(user.id)
    click.echo(f"deleted user {user.id} ({user.phone_number})")
