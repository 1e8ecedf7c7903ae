"""New bars get version 7 UUIDs that sort in the order they were inserted (revision 0022); the
downgrade gives them random ones again."""

from __future__ import annotations

import time
import uuid
from itertools import pairwise

import psycopg

from rm_pipeline.db import migrate
from rm_pipeline.db.ids import COUNTER_BITS, canonical_text, time_ordered_ids

SECURITY = (
    "INSERT INTO securities (ticker, name, security_type, exchange) "
    "VALUES ('IDS', 'Ids', 'equity', 'TEST') RETURNING id"
)
BAR = (
    "INSERT INTO price_history (security_id, date, close, data_source) "
    "VALUES (%s, %s, 10, 'test') RETURNING id"
)
ID_DEFAULT = (
    "SELECT column_default FROM information_schema.columns "
    "WHERE table_name = 'price_history' AND column_name = 'id'"
)


def insert_bars(url: str, days: list[str]) -> list[uuid.UUID]:
    """One bar a day, each in a transaction of its own a few milliseconds after the last."""
    ids = []
    with psycopg.connect(url, autocommit=True) as conn:
        [security] = conn.execute(SECURITY).fetchone() or ()
        for day in days:
            [bar] = conn.execute(BAR, (security, day)).fetchone() or ()
            ids.append(bar)
            time.sleep(0.005)
    return ids


def id_default(url: str) -> str:
    with psycopg.connect(url) as conn:
        [default] = conn.execute(ID_DEFAULT).fetchone() or ()
    return str(default)


def test_new_bars_ids_are_version_7_and_sort_in_insertion_order(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    days = [f"2026-11-{day:02d}" for day in (2, 3, 4, 5, 6)]
    ids = insert_bars(empty_database, days)
    assert [bar.version for bar in ids] == [7] * len(days)
    assert sorted(ids, key=lambda bar: bar.bytes) == ids
    inserted_ms = int.from_bytes(ids[0].bytes[:6], "big")
    assert abs(inserted_ms / 1000 - time.time()) < 60


def test_0022_downgrade_gives_new_bars_random_ids_again(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert id_default(empty_database) == "time_ordered_uuid()"
    migrate.downgrade(empty_database, "0021")
    assert id_default(empty_database) == "gen_random_uuid()"
    [bar] = insert_bars(empty_database, ["2026-11-02"])
    assert bar.version == 4
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT to_regprocedure('time_ordered_uuid()')").fetchone() == (None,)


def test_ids_made_in_bulk_are_version_7_ascending_and_carry_the_millisecond() -> None:
    made = time_ordered_ids(5, now_ms=1_700_000_000_123)
    ids = [uuid.UUID(bytes=row.tobytes()) for row in made]
    assert [i.version for i in ids] == [7] * 5 and {i.variant for i in ids} == {uuid.RFC_4122}
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert {i.int >> 80 for i in ids} == {1_700_000_000_123}
    assert canonical_text(made) == [str(i) for i in ids]


def test_more_ids_than_a_millisecond_counts_move_on_to_the_next_one() -> None:
    made = time_ordered_ids((1 << COUNTER_BITS) + 2, now_ms=5)
    halves = made.view(">u8").reshape(-1, 2).astype(object)
    values = [high << 64 | low for high, low in halves]
    assert all(a < b for a, b in pairwise(values))
    milliseconds = [value >> 80 for value in values]
    assert milliseconds[(1 << COUNTER_BITS) - 1] == 5 and milliseconds[1 << COUNTER_BITS] == 6
