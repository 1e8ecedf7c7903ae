"""Broker connections: a user's API credentials for a broker account, encrypted at rest.

The API key, secret and access token are stored only as Fernet ciphertexts
(`rm_pipeline.app.crypto`) and handed around only as `SecretStr`, so no repr, log line or CLI output shows them. A connection
may trade only when asked for explicitly. A user has at most one connection per broker and account;
the account is required because the schema's UNIQUE (user, broker, account) treats missing accounts
as all different.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rm_pipeline.app.crypto import CredentialCipher
from rm_pipeline.app.errors import Conflict, InvalidInput, NotFound, violated_constraint
from rm_pipeline.db.models import BrokerConnection
from rm_pipeline.settings import Settings, get_settings

BROKERS = ("alpaca", "ibkr", "swissquote", "tradier")
CREDENTIAL_COLUMNS = ("api_key_encrypted", "api_secret_encrypted", "access_token_encrypted")
UNIQUE_CONNECTION = "broker_connections_user_id_broker_broker_account_id_key"


@dataclass(frozen=True)
class BrokerCredentials:
    api_key: SecretStr
    api_secret: SecretStr
    access_token: SecretStr | None = None


@dataclass(frozen=True)
class BrokerConnectionView:
    """A connection as it may be shown: no credentials, not even encrypted."""

    id: uuid.UUID
    broker: str
    broker_account_id: str | None
    can_read: bool
    can_trade: bool
    is_active: bool
    is_connected: bool
    created_at: datetime | None

    @classmethod
    def of(cls, connection: BrokerConnection) -> BrokerConnectionView:
        return cls(
            id=connection.id,
            broker=connection.broker,
            broker_account_id=connection.broker_account_id,
            can_read=bool(connection.can_read),
            can_trade=bool(connection.can_trade),
            is_active=bool(connection.is_active),
            is_connected=bool(connection.is_connected),
            created_at=connection.created_at,
        )


class BrokerService:
    def __init__(self, engine: Engine, settings: Settings | None = None) -> None:
        self._engine = engine
        self._settings = settings or get_settings()

    @cached_property
    def _cipher(self) -> CredentialCipher:
        return CredentialCipher.from_settings(self._settings)

    def add(
        self,
        user_id: uuid.UUID,
        broker: str,
        account_id: str,
        credentials: BrokerCredentials,
        *,
        can_trade: bool = False,
    ) -> BrokerConnectionView:
        """Store a connection with its credentials encrypted."""
        broker = broker.strip().lower()
        if broker not in BROKERS:
            raise InvalidInput(f"unknown broker {broker!r}; known: {', '.join(BROKERS)}")
        account_id = account_id.strip()
        if not account_id:
            raise InvalidInput("the broker account id must not be empty")
        for label, secret in (
            ("API key", credentials.api_key),
            ("API secret", credentials.api_secret),
        ):
            if not secret.get_secret_value():
                raise InvalidInput(f"the {label} must not be empty")
        connection = BrokerConnection(
            user_id=user_id,
            broker=broker,
            broker_account_id=account_id,
            api_key_encrypted=self._encrypted(credentials.api_key),
            api_secret_encrypted=self._encrypted(credentials.api_secret),
            access_token_encrypted=self._encrypted(credentials.access_token),
            can_trade=can_trade,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(connection)
                session.flush()
                return BrokerConnectionView.of(connection)
        except IntegrityError as exc:
            if violated_constraint(exc) != UNIQUE_CONNECTION:
                raise
            raise Conflict(
                f"a {broker} connection for account {account_id} already exists"
            ) from exc

    def list_connections(self, user_id: uuid.UUID) -> list[BrokerConnectionView]:
        query = (
            select(BrokerConnection)
            .where(BrokerConnection.user_id == user_id)
            .order_by(BrokerConnection.broker, BrokerConnection.broker_account_id)
        )
        with Session(self._engine) as session:
            return [BrokerConnectionView.of(c) for c in session.scalars(query)]

    def credentials(self, user_id: uuid.UUID, connection_id: uuid.UUID) -> BrokerCredentials:
        """The decrypted credentials, for the code that talks to the broker."""
        with Session(self._engine) as session:
            connection = session.get(BrokerConnection, connection_id)
            if connection is None or connection.user_id != user_id:
                raise NotFound(f"no broker connection {connection_id}")
            api_key = self._decrypted(connection.api_key_encrypted)
            api_secret = self._decrypted(connection.api_secret_encrypted)
            access_token = self._decrypted(connection.access_token_encrypted)
        if api_key is None or api_secret is None:
            raise Conflict(f"broker connection {connection_id} has no stored API key and secret")
        return BrokerCredentials(api_key, api_secret, access_token)

    def rotate_keys(self) -> int:
        """Re-encrypt every stored credential with the newest key; returns the connections changed.

        All or nothing: one transaction, rows locked; a ciphertext no key decrypts aborts it.
        """
        query = select(BrokerConnection).with_for_update().order_by(BrokerConnection.id)
        rotated = 0
        with Session(self._engine) as session, session.begin():
            for connection in session.scalars(query):
                stored = {c: getattr(connection, c) for c in CREDENTIAL_COLUMNS}
                for column, ciphertext in stored.items():
                    if ciphertext:
                        setattr(connection, column, self._cipher.rotate(ciphertext))
                rotated += any(stored.values())
        return rotated

    def _encrypted(self, plaintext: SecretStr | None) -> str | None:
        if plaintext is None or not plaintext.get_secret_value():
            return None
        return self._cipher.encrypt(plaintext)

    def _decrypted(self, ciphertext: str | None) -> SecretStr | None:
        return self._cipher.decrypt(ciphertext) if ciphertext else None
