"""Users: registration by phone, verification codes, access tokens, deactivation and deletion.

Verification codes are 6 random digits from `secrets`, valid for 10 minutes. Only their
HMAC-SHA256, keyed with `RM_VERIFICATION_PEPPER` and bound to the user's id, is stored, so neither
the database nor a dump of it reveals a code, and equal codes of two users hash differently. A code
survives at most 5 wrong guesses; the attempt counter is updated under a row lock, so parallel
guesses cannot exceed it. Sending is rate-limited per phone number: one code a minute, and a new
code keeps the wrong guesses of the 10-minute window it replaces, so resending never buys more than
5 guesses per window; after the fifth, no code is sent until the window ends. Codes reach the user through a `CodeSender`: the console sender prints them for
local use, production plugs an SMS gateway in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Protocol

import phonenumbers
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rm_pipeline.app.clock import Clock, utc_now
from rm_pipeline.app.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
    required_secret,
    violated_constraint,
)
from rm_pipeline.app.tokens import AccessTokens
from rm_pipeline.db.models import User
from rm_pipeline.settings import Settings, get_settings

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_COOLDOWN = timedelta(minutes=1)

DUPLICATE_MESSAGES = {
    "users_phone_number_key": "a user with this phone number is already registered",
    "users_email_key": "a user with this email address is already registered",
}


class CodeSender(Protocol):
    """Delivers a verification code to a phone number."""

    def send(self, phone_number: str, code: str) -> None: ...


class ConsoleCodeSender:
    """Prints the code: for local use and the CLI walk-through, not for production."""

    def send(self, phone_number: str, code: str) -> None:
        minutes = int(CODE_TTL.total_seconds() // 60)
        print(f"verification code for {phone_number}: {code} (valid {minutes} minutes)")


@dataclass(frozen=True)
class UserView:
    id: uuid.UUID
    phone_number: str
    email: str | None
    full_name: str | None
    is_active: bool
    is_verified: bool
    created_at: datetime | None
    last_login: datetime | None

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id,
            phone_number=user.phone_number,
            email=user.email,
            full_name=user.full_name,
            is_active=bool(user.is_active),
            is_verified=bool(user.is_verified),
            created_at=user.created_at,
            last_login=user.last_login,
        )


def normalize_phone(raw: str) -> str:
    """The number in E.164 (`+14155550100`); it must carry its country code."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(
            f"{raw!r} is not a phone number in international format (+<country code>...)"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str | None) -> str | None:
    if raw is None:
        return None
    email = raw.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain:
        raise InvalidInput(f"{raw!r} is not an email address")
    return email


class UserService:
    """Users and their access tokens.

    Secrets are read from the settings only by the operations that need them, so registering works
    without `RM_JWT_SECRET`, and a missing secret is reported by the name of its variable.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        *,
        sender: CodeSender | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._settings = settings or get_settings()
        self._sender = sender or ConsoleCodeSender()
        self._clock = clock

    @cached_property
    def _tokens(self) -> AccessTokens:
        return AccessTokens.from_settings(self._settings, self._clock)

    @cached_property
    def _pepper(self) -> bytes:
        return required_secret(
            self._settings.verification_pepper, "RM_VERIFICATION_PEPPER"
        ).encode()

    def register(
        self, phone: str, *, email: str | None = None, full_name: str | None = None
    ) -> UserView:
        """Create an unverified user and send it a verification code."""
        user = User(
            id=uuid.uuid4(),
            phone_number=normalize_phone(phone),
            email=normalize_email(email),
            full_name=(full_name or "").strip() or None,
        )
        code = self._new_code(user)
        try:
            with Session(self._engine) as session, session.begin():
                session.add(user)
                session.flush()
                view = UserView.of(user)
        except IntegrityError as exc:
            message = DUPLICATE_MESSAGES.get(violated_constraint(exc) or "")
            if message is None:
                raise
            raise Conflict(message) from exc
        self._sender.send(view.phone_number, code)
        return view

    def send_code(self, phone: str) -> None:
        """Send a fresh code (to log in again, or after the last one expired or was burned)."""
        with Session(self._engine) as session, session.begin():
            user = self._user_by_phone(session, normalize_phone(phone))
            if not user.is_active:
                raise AuthenticationFailed("this account is deactivated")
            self._refuse_too_soon(user)
            code = self._new_code(user)
            phone_number = user.phone_number
        self._sender.send(phone_number, code)

    def verify(self, phone: str, code: str) -> str:
        """Check the code; on success mark the user verified and return an access token.

        A wrong code still commits the incremented attempt counter before the error is raised.
        """
        tokens = self._tokens  # a missing RM_JWT_SECRET must fail before the code is spent
        with Session(self._engine) as session, session.begin():
            user = self._user_by_phone(session, normalize_phone(phone), lock=True)
            failure = self._check_code(user, code.strip())
            user_id = user.id
        if failure is not None:
            raise AuthenticationFailed(failure)
        return tokens.issue(user_id)

    def authenticate(self, token: str) -> uuid.UUID:
        """The id of the active, verified user the token belongs to."""
        user_id = self._tokens.verify(token)
        with Session(self._engine) as session:
            user = session.get(User, user_id)
            if user is None or not user.is_active or not user.is_verified:
                raise AuthenticationFailed("the token's user is deleted or deactivated")
        return user_id

    def get(self, user_id: uuid.UUID) -> UserView:
        with Session(self._engine) as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user {user_id}")
            return UserView.of(user)

    def find_by_phone(self, phone: str) -> UserView:
        with Session(self._engine) as session:
            return UserView.of(self._user_by_phone(session, normalize_phone(phone)))

    def deactivate(self, user_id: uuid.UUID) -> None:
        """Refuse the user's tokens and codes from now on; the data stays."""
        with Session(self._engine) as session, session.begin():
            user = session.get(User, user_id, with_for_update=True)
            if user is None:
                raise NotFound(f"no user {user_id}")
            user.is_active = False
            self._clear_code(user)

    def delete(self, user_id: uuid.UUID) -> None:
        """Delete the user; the schema's cascades remove its trades, portfolios and connections."""
        with Session(self._engine) as session, session.begin():
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user {user_id}")
            session.delete(user)

    def _user_by_phone(self, session: Session, phone_number: str, *, lock: bool = False) -> User:
        query = select(User).where(User.phone_number == phone_number)
        user = session.scalars(query.with_for_update() if lock else query).one_or_none()
        if user is None:
            raise NotFound(f"no user with phone number {phone_number}")
        return user

    def _code_hash(self, user_id: uuid.UUID, code: str) -> str:
        message = f"{user_id}:{code}".encode()
        return hmac.new(self._pepper, message, hashlib.sha256).hexdigest()

    def _window_open(self, user: User) -> bool:
        expires = user.verification_expires_at
        return expires is not None and self._clock() < expires

    def _refuse_too_soon(self, user: User) -> None:
        """Refuse a send within a minute of the last one, or after the window's last guess."""
        if not self._window_open(user):
            return
        assert user.verification_expires_at is not None
        if user.verification_attempts >= MAX_ATTEMPTS:
            raise TooManyRequests(
                "too many wrong codes: request a new one after "
                f"{user.verification_expires_at:%H:%M} UTC"
            )
        since = self._clock() - (user.verification_expires_at - CODE_TTL)
        if since < RESEND_COOLDOWN:
            wait = int((RESEND_COOLDOWN - since).total_seconds()) + 1
            raise TooManyRequests(f"a code was sent moments ago: ask again in {wait} s")

    def _new_code(self, user: User) -> str:
        """A fresh code; the wrong guesses of a still-open window carry over."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if not self._window_open(user):
            user.verification_attempts = 0
        user.verification_code = self._code_hash(user.id, code)
        user.verification_expires_at = self._clock() + CODE_TTL
        return code

    @staticmethod
    def _clear_code(user: User) -> None:
        user.verification_code = None
        user.verification_expires_at = None
        user.verification_attempts = 0

    def _check_code(self, user: User, code: str) -> str | None:
        """None when the code is right (and the user updated), else why it was refused."""
        now = self._clock()
        if not user.is_active:
            return "this account is deactivated"
        if user.verification_code is None or user.verification_expires_at is None:
            return "no verification code is pending; request a new one"
        if now >= user.verification_expires_at:
            self._clear_code(user)
            return "the verification code has expired; request a new one"
        if not hmac.compare_digest(self._code_hash(user.id, code), user.verification_code):
            return self._count_wrong_guess(user)
        self._clear_code(user)
        user.is_verified = True
        user.last_login = now
        return None

    def _count_wrong_guess(self, user: User) -> str:
        user.verification_attempts += 1
        left = MAX_ATTEMPTS - user.verification_attempts
        if left > 0:
            return f"wrong verification code ({left} attempts left)"
        user.verification_code = None  # burned; the window (and its count) stays until it ends
        assert user.verification_expires_at is not None
        return (
            "wrong verification code; too many attempts: request a new one after "
            f"{user.verification_expires_at:%H:%M} UTC"
        )
