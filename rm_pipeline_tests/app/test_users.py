"""Registration, the verification lifecycle (expiry, attempts), deactivation and deletion."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from rm_pipeline.app.errors import (
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
)
from rm_pipeline.app.trades import PositionSpec, TradeService
from rm_pipeline.app.users import MAX_ATTEMPTS, UserService
from rm_pipeline.core.analysis import Side
from rm_pipeline_tests.app.conftest import FakeClock, RecordingSender, insert, make_settings

PHONE = "+14155550100"


def user_row(db: Engine, phone: str = PHONE) -> dict[str, object]:
    with db.connect() as conn:
        row = conn.execute(text("SELECT * FROM users WHERE phone_number = :p"), {"p": phone})
        return dict(row.mappings().one())


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_register_stores_e164_and_only_a_keyed_hash_of_the_code(
    db: Engine, users: UserService, sender: RecordingSender, clock: FakeClock
) -> None:
    user = users.register("+1 (415) 555-0100", email=" Ada@Example.org ", full_name=" Ada ")

    code = sender.last(PHONE)
    row = user_row(db)
    assert (user.phone_number, user.email, user.full_name) == (PHONE, "ada@example.org", "Ada")
    assert len(code) == 6 and code.isdigit()
    assert len(row["verification_code"]) == 64
    assert code not in row["verification_code"]
    assert row["verification_expires_at"] == clock.now + timedelta(minutes=10)
    assert (row["is_verified"], row["verification_attempts"]) == (False, 0)


def test_equal_codes_of_two_users_hash_differently(
    db: Engine, users: UserService, sender: RecordingSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rm_pipeline.app.users.secrets.randbelow", lambda _: 4242)
    users.register(PHONE)
    users.register("+442071838750")
    assert sender.last(PHONE) == sender.last("+442071838750") == "004242"
    assert user_row(db)["verification_code"] != user_row(db, "+442071838750")["verification_code"]


@pytest.mark.parametrize("phone", ["4155550100", "+1 555", "not a phone", "+999 123 456"])
def test_register_refuses_numbers_that_are_not_valid_international_ones(
    db: Engine, users: UserService, phone: str
) -> None:
    with pytest.raises(InvalidInput, match="phone number"):
        users.register(phone)


def test_register_refuses_a_duplicate_phone_written_differently(
    db: Engine, users: UserService
) -> None:
    users.register(PHONE)
    with pytest.raises(Conflict, match="phone number is already registered"):
        users.register("+1 415-555-0100")


def test_register_refuses_a_duplicate_email(db: Engine, users: UserService) -> None:
    users.register(PHONE, email="ada@example.org")
    with pytest.raises(Conflict, match="email address is already registered"):
        users.register("+442071838750", email="ADA@example.org")


def test_the_right_code_verifies_logs_in_and_yields_a_working_token(
    db: Engine, users: UserService, sender: RecordingSender, clock: FakeClock
) -> None:
    user = users.register(PHONE)

    token = users.verify(PHONE, sender.last(PHONE))

    row = user_row(db)
    assert users.authenticate(token) == user.id
    assert (row["is_verified"], row["last_login"]) == (True, clock.now)
    assert (row["verification_code"], row["verification_expires_at"]) == (None, None)


def test_a_code_is_still_good_just_before_ten_minutes(
    db: Engine, users: UserService, sender: RecordingSender, clock: FakeClock
) -> None:
    users.register(PHONE)
    clock.advance(timedelta(minutes=9, seconds=59))

    users.verify(PHONE, sender.last(PHONE))

    assert user_row(db)["last_login"] == clock.now


def test_a_code_expires_after_ten_minutes(
    db: Engine, users: UserService, sender: RecordingSender, clock: FakeClock
) -> None:
    users.register(PHONE)
    clock.advance(timedelta(minutes=10))

    with pytest.raises(AuthenticationFailed, match="expired"):
        users.verify(PHONE, sender.last(PHONE))
    with pytest.raises(AuthenticationFailed, match="no verification code is pending"):
        users.verify(PHONE, sender.last(PHONE))
    assert user_row(db)["is_verified"] is False


def test_wrong_guesses_are_counted_in_the_database_and_the_code_survives_until_the_limit(
    db: Engine, users: UserService, sender: RecordingSender
) -> None:
    users.register(PHONE)
    code = sender.last(PHONE)
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(AuthenticationFailed, match=f"{MAX_ATTEMPTS - attempt} attempts left"):
            users.verify(PHONE, wrong(code))
        assert user_row(db)["verification_attempts"] == attempt

    users.verify(PHONE, code)
    assert user_row(db)["is_verified"] is True


def test_the_code_is_burned_after_the_last_allowed_wrong_guess(
    db: Engine, users: UserService, sender: RecordingSender
) -> None:
    users.register(PHONE)
    code = sender.last(PHONE)
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(AuthenticationFailed):
            users.verify(PHONE, wrong(code))
    with pytest.raises(AuthenticationFailed, match="too many attempts"):
        users.verify(PHONE, wrong(code))

    with pytest.raises(AuthenticationFailed, match="no verification code is pending"):
        users.verify(PHONE, code)
    assert user_row(db)["is_verified"] is False


def test_a_new_code_replaces_the_old_one_and_keeps_the_windows_wrong_guesses(
    db: Engine,
    users: UserService,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    codes = iter([111111, 222222, 333333])
    monkeypatch.setattr("rm_pipeline.app.users.secrets.randbelow", lambda _: next(codes))
    users.register(PHONE)
    with pytest.raises(AuthenticationFailed):
        users.verify(PHONE, "999999")

    with pytest.raises(TooManyRequests, match="ask again in"):
        users.send_code(PHONE)  # within a minute of the last one
    clock.advance(timedelta(minutes=2))
    users.send_code(PHONE)

    assert user_row(db)["verification_attempts"] == 1  # resending buys no new guesses
    with pytest.raises(AuthenticationFailed, match="wrong verification code"):
        users.verify(PHONE, "111111")
    users.verify(PHONE, "222222")


def test_resending_never_buys_more_than_five_guesses_a_window(
    db: Engine, users: UserService, clock: FakeClock
) -> None:
    users.register(PHONE)
    guesses = 0
    for _ in range(4):
        for _ in range(3):
            try:
                users.verify(PHONE, "000000")
            except AuthenticationFailed:
                guesses += 1
        clock.advance(timedelta(minutes=1, seconds=1))
        with contextlib.suppress(TooManyRequests):
            users.send_code(PHONE)
    wrong = user_row(db)["verification_attempts"]
    assert wrong == 5 and guesses >= 5
    with pytest.raises(TooManyRequests, match="too many wrong codes"):
        users.send_code(PHONE)
    clock.advance(timedelta(minutes=10))  # the window ends: a new code, five new guesses
    users.send_code(PHONE)
    assert user_row(db)["verification_attempts"] == 0


def test_verifying_an_unknown_phone_is_not_found(db: Engine, users: UserService) -> None:
    with pytest.raises(NotFound, match=r"\+14155550100"):
        users.verify(PHONE, "123456")


def test_a_deactivated_user_can_neither_authenticate_nor_verify(
    db: Engine, users: UserService, sender: RecordingSender
) -> None:
    user = users.register(PHONE)
    token = users.verify(PHONE, sender.last(PHONE))
    users.send_code(PHONE)

    users.deactivate(user.id)

    with pytest.raises(AuthenticationFailed, match="deactivated"):
        users.authenticate(token)
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        users.verify(PHONE, sender.last(PHONE))
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        users.send_code(PHONE)
    assert user_row(db)["is_active"] is False


def test_deleting_a_user_removes_what_it_owns_and_refuses_its_token(
    db: Engine, users: UserService, sender: RecordingSender, securities: dict[str, uuid.UUID]
) -> None:
    user = users.register(PHONE)
    token = users.verify(PHONE, sender.last(PHONE))
    TradeService(db).create(user.id, "t", "d", [PositionSpec("AAPL", Side.LONG, Decimal(50))])
    with db.begin() as conn:
        insert(conn, "broker_connections", user_id=user.id, broker="alpaca")

    users.delete(user.id)

    with db.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("users", "trades", "positions", "broker_connections")
        ]
    assert counts == [0, 0, 0, 0]
    with pytest.raises(AuthenticationFailed):
        users.authenticate(token)


def test_codes_need_the_pepper_and_tokens_need_the_jwt_secret(
    db: Engine, sender: RecordingSender
) -> None:
    without_pepper = UserService(db, make_settings(verification_pepper=None), sender=sender)
    with pytest.raises(ConfigurationError, match="RM_VERIFICATION_PEPPER"):
        without_pepper.register(PHONE)

    without_secret = UserService(db, make_settings(jwt_secret=None), sender=sender)
    without_secret.register(PHONE)
    with pytest.raises(ConfigurationError, match="RM_JWT_SECRET"):
        without_secret.verify(PHONE, sender.last(PHONE))
    assert user_row(db)["verification_code"] is not None, "the code was not spent"


def test_a_short_jwt_secret_is_refused(db: Engine) -> None:
    short = UserService(db, make_settings(jwt_secret=SecretStr("too-short")))
    with pytest.raises(ConfigurationError, match="at least 32"):
        short.authenticate("anything")


def test_parallel_wrong_guesses_are_all_counted(
    db: Engine, users: UserService, sender: RecordingSender
) -> None:
    users.register(PHONE)
    guesses = 3 * MAX_ATTEMPTS

    def guess(_: int) -> str:
        try:
            users.verify(PHONE, wrong(sender.last(PHONE)))
        except AuthenticationFailed as refused:
            return str(refused)
        return "verified"

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        outcomes = list(pool.map(guess, range(guesses)))

    counted = [o for o in outcomes if o.startswith("wrong verification code")]
    assert len(counted) == MAX_ATTEMPTS
    assert (
        outcomes.count("no verification code is pending; request a new one")
        == guesses - MAX_ATTEMPTS
    )
