"""Broker connections: credentials encrypted at rest, never shown, rotated to a new key."""

from __future__ import annotations

import uuid

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Engine, text

from rm_pipeline.app.brokers import BrokerCredentials, BrokerService
from rm_pipeline.app.crypto import CredentialCipher
from rm_pipeline.app.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from rm_pipeline_tests.app.conftest import make_settings

API_KEY = "PKTEST-api-key-7f3a9c"
API_SECRET = "api-secret-4b8d2e6f1a0c"
ACCESS_TOKEN = "access-token-9e5d7c3b"
PLAINTEXTS = (API_KEY, API_SECRET, ACCESS_TOKEN)
CREDENTIALS = BrokerCredentials(SecretStr(API_KEY), SecretStr(API_SECRET), SecretStr(ACCESS_TOKEN))
CIPHERTEXTS_SQL = text(
    "SELECT api_key_encrypted, api_secret_encrypted, access_token_encrypted "
    "FROM broker_connections ORDER BY id"
)


def service(db: Engine, *keys: str) -> BrokerService:
    return BrokerService(db, make_settings(encryption_keys=SecretStr(",".join(keys))))


def ciphertexts(db: Engine) -> list[tuple[str | None, ...]]:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(CIPHERTEXTS_SQL)]


def every_row_as_text(db: Engine) -> str:
    """Every row of every table of the warehouse, as JSON text."""
    with db.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ).scalars()
        return "\n".join(
            row
            for table in list(tables)
            for row in conn.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')).scalars()
        )


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


def test_credentials_round_trip_and_no_plaintext_is_stored_anywhere(
    db: Engine, alice: uuid.UUID, key: str
) -> None:
    brokers = service(db, key)
    connection = brokers.add(alice, "alpaca", "ACC-1", CREDENTIALS)

    dump = every_row_as_text(db)
    assert ciphertexts(db)[0][0] in dump, "the dump holds the stored ciphertext"
    assert [p for p in PLAINTEXTS if p in dump] == []
    assert brokers.credentials(alice, connection.id) == CREDENTIALS
    assert brokers.credentials(alice, connection.id).api_secret.get_secret_value() == API_SECRET


def test_credentials_stay_out_of_reprs_and_views(db: Engine, alice: uuid.UUID, key: str) -> None:
    brokers = service(db, key)
    connection = brokers.add(alice, "alpaca", "ACC-1", CREDENTIALS)
    shown = " ".join(
        [
            repr(CREDENTIALS),
            str(CREDENTIALS),
            repr(connection),
            repr(brokers.credentials(alice, connection.id)),
            repr(CredentialCipher([key])),
        ]
    )
    assert [p for p in (*PLAINTEXTS, key) if p in shown] == []


def test_a_connection_reads_only_unless_trading_is_asked_for(
    db: Engine, alice: uuid.UUID, key: str
) -> None:
    brokers = service(db, key)
    read_only = brokers.add(alice, "alpaca", "ACC-1", CREDENTIALS)
    trading = brokers.add(alice, "alpaca", "ACC-2", CREDENTIALS, can_trade=True)
    assert (read_only.can_read, read_only.can_trade) == (True, False)
    assert trading.can_trade is True
    assert [c.broker_account_id for c in brokers.list_connections(alice)] == ["ACC-1", "ACC-2"]


def test_one_connection_per_user_broker_and_account(
    db: Engine, alice: uuid.UUID, bob: uuid.UUID, key: str
) -> None:
    brokers = service(db, key)
    brokers.add(alice, "alpaca", "ACC-1", CREDENTIALS)
    with pytest.raises(Conflict, match="alpaca connection for account ACC-1 already exists"):
        brokers.add(alice, "Alpaca", " ACC-1 ", CREDENTIALS)
    brokers.add(alice, "ibkr", "ACC-1", CREDENTIALS)
    brokers.add(bob, "alpaca", "ACC-1", CREDENTIALS)
    assert len(ciphertexts(db)) == 3


@pytest.mark.parametrize(
    ("broker", "account", "credentials", "problem"),
    [
        ("robinhood", "A", CREDENTIALS, "unknown broker 'robinhood'"),
        ("alpaca", "  ", CREDENTIALS, "account id must not be empty"),
        ("alpaca", "A", BrokerCredentials(SecretStr(""), SecretStr("s")), "API key must not"),
    ],
)
def test_bad_connections_are_refused(
    db: Engine,
    alice: uuid.UUID,
    key: str,
    broker: str,
    account: str,
    credentials: BrokerCredentials,
    problem: str,
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        service(db, key).add(alice, broker, account, credentials)


def test_another_users_connection_is_not_found(
    db: Engine, alice: uuid.UUID, bob: uuid.UUID, key: str
) -> None:
    brokers = service(db, key)
    connection = brokers.add(alice, "alpaca", "ACC-1", CREDENTIALS)
    with pytest.raises(NotFound):
        brokers.credentials(bob, connection.id)
    assert brokers.list_connections(bob) == []


def test_rotation_re_encrypts_with_the_newest_key_so_the_old_one_can_go(
    db: Engine, alice: uuid.UUID, key: str
) -> None:
    old_key, new_key = key, Fernet.generate_key().decode()
    connection = service(db, old_key).add(alice, "alpaca", "ACC-1", CREDENTIALS)
    before = ciphertexts(db)

    assert service(db, new_key, old_key).rotate_keys() == 1

    after = ciphertexts(db)
    assert all(b != a for b, a in zip(before[0], after[0], strict=True))
    assert service(db, new_key).credentials(alice, connection.id) == CREDENTIALS
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        service(db, old_key).credentials(alice, connection.id)


def test_rotation_is_all_or_nothing(db: Engine, alice: uuid.UUID, key: str) -> None:
    stray_key = Fernet.generate_key().decode()
    service(db, key).add(alice, "alpaca", "ACC-1", CREDENTIALS)
    service(db, stray_key).add(alice, "alpaca", "ACC-2", CREDENTIALS)
    before = ciphertexts(db)

    with pytest.raises(ConfigurationError, match="RM_ENCRYPTION_KEYS"):
        service(db, Fernet.generate_key().decode(), key).rotate_keys()

    assert ciphertexts(db) == before


def test_rotation_skips_connections_without_credentials(
    db: Engine, alice: uuid.UUID, key: str
) -> None:
    with db.begin() as conn:
        conn.execute(
            text("INSERT INTO broker_connections (user_id, broker) VALUES (:u, 'tradier')"),
            {"u": alice},
        )
    service(db, key).add(alice, "alpaca", "ACC-1", CREDENTIALS)
    assert service(db, key).rotate_keys() == 1


@pytest.mark.parametrize(
    ("keys", "problem"),
    [(None, "RM_ENCRYPTION_KEYS is not set"), (SecretStr("not-a-key"), "not a Fernet key")],
)
def test_missing_or_bad_keys_are_reported_by_their_variable(
    db: Engine, alice: uuid.UUID, keys: SecretStr | None, problem: str
) -> None:
    brokers = BrokerService(db, make_settings(encryption_keys=keys))
    with pytest.raises(ConfigurationError, match=problem) as raised:
        brokers.add(alice, "alpaca", "ACC-1", CREDENTIALS)
    assert "not-a-key" not in str(raised.value)
    assert ciphertexts(db) == []
