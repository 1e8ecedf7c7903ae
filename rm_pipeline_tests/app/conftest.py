"""Fixtures of the service-layer tests: settings with secrets, a clock, securities, users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Connection, Engine, text

from rm_pipeline.app.clock import utc_now
from rm_pipeline.app.trades import TradeService
from rm_pipeline.app.users import UserService
from rm_pipeline.settings import Settings

JWT_SECRET = "test-jwt-secret-" + "0123456789" * 6
PEPPER = "test-pepper"


@dataclass
class FakeClock:
    """A clock that starts at the real now (tokens' expiry is checked against real time) and then
    moves only when told to."""

    now: datetime = field(default_factory=utc_now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class RecordingSender:
    """Keeps the codes it was asked to send, by phone number."""

    sent: dict[str, list[str]] = field(default_factory=dict)

    def send(self, phone_number: str, code: str) -> None:
        self.sent.setdefault(phone_number, []).append(code)

    def last(self, phone_number: str) -> str:
        return self.sent[phone_number][-1]


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "jwt_secret": SecretStr(JWT_SECRET),
        "verification_pepper": SecretStr(PEPPER),
        "encryption_keys": SecretStr(Fernet.generate_key().decode()),
    }
    values.update(overrides)
    return Settings(**values)


def insert(conn: Connection, table: str, **values: object) -> uuid.UUID:
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    return conn.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"), values
    ).scalar_one()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def users(db: Engine, settings: Settings, sender: RecordingSender, clock: FakeClock) -> UserService:
    return UserService(db, settings, sender=sender, clock=clock)


@pytest.fixture
def trades(db: Engine, clock: FakeClock) -> TradeService:
    return TradeService(db, clock=clock)


def verified_user(users: UserService, sender: RecordingSender, phone: str) -> uuid.UUID:
    """Register and verify `phone`; returns the user's id."""
    user = users.register(phone)
    users.verify(phone, sender.last(user.phone_number))
    return user.id


@pytest.fixture
def alice(users: UserService, sender: RecordingSender) -> uuid.UUID:
    return verified_user(users, sender, "+14155550100")


@pytest.fixture
def bob(users: UserService, sender: RecordingSender) -> uuid.UUID:
    return verified_user(users, sender, "+442071838750")


@pytest.fixture
def securities(db: Engine) -> dict[str, uuid.UUID]:
    """AAPL and MSFT on NASDAQ, SAP on two exchanges, and an inactive OLD."""
    rows = {
        "AAPL": ("NASDAQ", "equity", True),
        "MSFT": ("NASDAQ", "equity", True),
        "SPY": ("NYSE", "etf", True),
        "SAP@XETRA": ("XETRA", "equity", True),
        "SAP@NYSE": ("NYSE", "equity", True),
        "OLD": ("NYSE", "equity", False),
    }
    with db.begin() as conn:
        return {
            key: insert(
                conn,
                "securities",
                ticker=key.partition("@")[0],
                name=key,
                exchange=exchange,
                security_type=kind,
                is_active=active,
            )
            for key, (exchange, kind, active) in rows.items()
        }
