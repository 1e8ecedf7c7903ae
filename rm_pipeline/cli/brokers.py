"""`rm-pipeline brokers ...`: broker connections with their credentials encrypted at rest."""

from __future__ import annotations

import os

import click
from pydantic import SecretStr

from rm_pipeline.app.brokers import BROKERS, BrokerCredentials, BrokerService
from rm_pipeline.app.crypto import generate_key
from rm_pipeline.cli.users import AppGroup, authenticated, token_option
from rm_pipeline.core.words import counted
from rm_pipeline.db.engine import get_engine

API_KEY_VARIABLE = "RM_BROKER_API_KEY"
API_SECRET_VARIABLE = "RM_BROKER_API_SECRET"
ACCESS_TOKEN_VARIABLE = "RM_BROKER_ACCESS_TOKEN"


def read_secret(variable: str, label: str, *, required: bool) -> SecretStr | None:
    """A credential from the environment, else from a hidden prompt; never from the command line.

    Arguments end up in shell history and in `ps`; the environment and a hidden prompt do not.
    """
    value = os.environ.get(variable)
    if value is None:
        value = click.prompt(
            label if required else f"{label} (optional, Enter for none)",
            hide_input=True,
            default=None if required else "",
            show_default=False,
        )
    return SecretStr(value) if value else None


def service() -> BrokerService:
    return BrokerService(get_engine())


@click.group(cls=AppGroup)
def brokers() -> None:
    """Broker connections. Credentials are encrypted with RM_ENCRYPTION_KEYS and never shown."""


@brokers.command()
@token_option
@click.option("--broker", type=click.Choice(BROKERS), required=True, help="The broker.")
@click.option("--account", required=True, help="Your account id at the broker.")
@click.option("--can-trade", is_flag=True, help="Allow placing orders (default: read-only access).")
def add(token: str, broker: str, account: str, can_trade: bool) -> None:
    """Store a connection to a broker account.

    The credentials are read from RM_BROKER_API_KEY, RM_BROKER_API_SECRET and (optional)
    RM_BROKER_ACCESS_TOKEN, or asked for with hidden input when those are unset; they are never
    accepted as arguments.
    """
    user_id = authenticated(token)
    api_key = read_secret(API_KEY_VARIABLE, "API key", required=True)
    api_secret = read_secret(API_SECRET_VARIABLE, "API secret", required=True)
    access_token = read_secret(ACCESS_TOKEN_VARIABLE, "Access token", required=False)
    if api_key is None or api_secret is None:
        raise click.UsageError("the API key and secret must not be empty")
    credentials = BrokerCredentials(api_key, api_secret, access_token)
    connection = service().add(user_id, broker, account, credentials, can_trade=can_trade)
    rights = "read and trade" if connection.can_trade else "read only"
    click.echo(f"stored {broker} connection {connection.id} for account {account} ({rights})")


@brokers.command("list")
@token_option
def list_connections(token: str) -> None:
    """List your broker connections (without credentials)."""
    connections = service().list_connections(authenticated(token))
    for c in connections:
        rights = "read+trade" if c.can_trade else "read"
        state = "active" if c.is_active else "inactive"
        click.echo(
            f"{c.id}  {c.broker:<10}  {c.broker_account_id or '-':<20}  {rights:<10}  {state}"
        )
    if not connections:
        click.echo("no broker connections")


@brokers.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored credential with the newest key of RM_ENCRYPTION_KEYS.

    Rotation: put a new key first in RM_ENCRYPTION_KEYS (keeping the old ones after it), run this,
    then remove the old keys.
    """
    count = service().rotate_keys()
    click.echo(
        f"re-encrypted the credentials of {counted(count, 'broker connection')} with the newest key"
    )


@brokers.command("generate-key")
def generate_key_command() -> None:
    """Print a new encryption key, to put first in RM_ENCRYPTION_KEYS."""
    click.echo(generate_key())
