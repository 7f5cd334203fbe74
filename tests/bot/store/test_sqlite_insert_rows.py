"""insert_rows: several rows a statement, as executemany of one row's statement would."""

from __future__ import annotations

import sqlite3

import pytest

from bot.store.sqlite.connection import ROWS_A_STATEMENT, insert_rows


def test_rows_land_in_order_across_statements_with_the_tail() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    rows = [(i % (ROWS_A_STATEMENT + 7), i) for i in range(2 * ROWS_A_STATEMENT + 9)]
    insert_rows(db, "INSERT INTO t (k, v)", rows, " ON CONFLICT (k) DO UPDATE SET v = excluded.v")
    last = {k: v for k, v in rows}  # (a later row wins a key, as executemany's would)
    assert dict(db.execute("SELECT k, v FROM t")) == last
    insert_rows(db, "INSERT INTO t (k, v)", [])  # nothing to write: no statement


def test_rows_of_different_lengths_are_refused() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a, b)")
    # 6 values for 3 rows of 2: without the check they would land shifted, silently.
    with pytest.raises(ValueError, match="different lengths"):
        insert_rows(db, "INSERT INTO t (a, b)", [(1, 2), (3,), (4, 5, 6)])
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
