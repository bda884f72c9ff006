"""Engine, sessions and the declarative base. Nothing connects at import time."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, ClassVar, cast

import orjson
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    String,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from abusedesk.timeutil import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value) if value is not None else None

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, the text SQLAlchemy's DATETIME stores, made in one C call.

        Same format (``2026-11-26 10:00:00.000000``, naive UTC), so old and new rows sort
        and compare alike; a batch writes several timestamps per report, which made the
        generic processor chain a tenth of the ingest time.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        last: tuple[datetime | None, str | None] = (None, None)

        def process(value: datetime | None) -> str | None:
            nonlocal last
            if value is None:
                return None
            seen, text = last  # rows of one batch share their "now": format it once
            if value is seen:
                return text
            if value.tzinfo is UTC:
                text = value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"
            else:
                text = as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
            last = (value, text)
            return text

        return process


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: orjson (several times faster on the ingest path), with the
    standard library as the fallback for what orjson refuses (integers over 64 bits)."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return json.dumps(value, default=str)


def json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN or Infinity, which the standard library wrote
        return json.loads(text)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    json_options: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": json_loads}
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, **json_options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # 64 MiB of page cache: batch ingest rewrites the same index pages often.
            # Checkpoints run in WalCheckpointer's thread; the automatic one, in the
            # committing connection, is only a backstop at ~400 MB of WAL.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA wal_autocheckpoint=100000")
            cursor.close()
            # let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite recipe)
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # take the write lock up front: two writers never deadlock on upgrade
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10, **json_options)


class WalCheckpointer:
    """Checkpoints a SQLite database's WAL from a thread and connection of its own.

    This is what the SQLite documentation suggests for write-heavy applications: a commit
    then only appends to the WAL, while copying pages back into the database file (and its
    fsync) runs beside it, on the other core. It was a fifth of the batch ingest time once
    the database outgrew the first few batches. ``PASSIVE`` never blocks readers or writers;
    what it cannot copy this round, it copies the next.
    """

    def __init__(self, path: str, *, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self.frames_copied = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    continue  # locked or busy: the next round tries again
                if row is not None and row[2] > 0:
                    self.frames_copied += int(row[2])
        finally:
            connection.close()


def wal_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """A started checkpointer for a SQLite file database; None for anything else."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return WalCheckpointer(str(engine.url.database)).start()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def allocate_ids(session: Session, model: type[Base], count: int) -> list[int]:
    """Primary keys for ``count`` new rows, so a batch INSERT needs no RETURNING.

    SQLite cannot return batched INSERT ids in order, which makes the ORM insert row by
    row; taking the ids first turns a thousand statements into one. PostgreSQL draws them
    from the column's sequence; SQLite from ``max(id)`` under the write lock every
    transaction here holds (``BEGIN IMMEDIATE``).
    """
    if count <= 0:
        return []
    table_name = str(model.__tablename__)
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table_name, "n": count},
        )
        return [int(row[0]) for row in rows]
    start = session.execute(text(f'SELECT coalesce(max(id), 0) FROM "{table_name}"')).scalar_one()
    return list(range(int(start) + 1, int(start) + 1 + count))


_Processor = Callable[[Any], Any] | None
_plans: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, tuple[_Processor, ...]]] = {}


def _marker(dialect: Dialect) -> str:
    if dialect.paramstyle == "qmark":
        return "?"
    if dialect.paramstyle in ("format", "pyformat"):
        return "%s"
    raise ValueError(f"unsupported parameter style {dialect.paramstyle}")


def _processors(dialect: Dialect, table: Table, names: tuple[str, ...]) -> tuple[_Processor, ...]:
    return tuple(table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)


def _insert_plan(dialect: Dialect, table: Table, names: tuple[str, ...]) -> tuple[str, tuple[_Processor, ...]]:
    """The INSERT text in the driver's parameter style and each column's bind processor."""
    key = ("insert", dialect.name, table.name, names)
    plan = _plans.get(key)
    if plan is None:
        missing = [c.name for c in table.columns if c.name not in names and c.default is not None and not c.primary_key]
        if missing:
            raise ValueError(f"insert into {table.name}: no value for {', '.join(missing)} (column defaults are not applied)")
        quote, marker = dialect.identifier_preparer.quote, _marker(dialect)
        sql = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({', '.join(quote(n) for n in names)}) "
            f"VALUES ({', '.join(marker for _ in names)})"
        )
        plan = _plans[key] = (sql, _processors(dialect, table, names))
    return plan


def _update_plan(dialect: Dialect, table: Table, names: tuple[str, ...]) -> tuple[str, tuple[_Processor, ...]]:
    """``UPDATE … SET names WHERE id``, the id being the last value of each row."""
    key = ("update", dialect.name, table.name, names)
    plan = _plans.get(key)
    if plan is None:
        quote, marker = dialect.identifier_preparer.quote, _marker(dialect)
        sql = (
            f"UPDATE {dialect.identifier_preparer.format_table(table)} SET {', '.join(f'{quote(n)} = {marker}' for n in names)} "
            f"WHERE {quote('id')} = {marker}"
        )
        plan = _plans[key] = (sql, (*_processors(dialect, table, names), None))
    return plan


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """:func:`insert_values` for rows as dicts (the same keys in each)."""
    if not rows:
        return
    names = tuple(rows[0])
    if any(len(row) != len(names) for row in rows):
        raise ValueError(f"insert_rows into {model.__tablename__}: rows have different columns")
    get = itemgetter(*names)
    insert_values(session, model, names, [get(row) if len(names) > 1 else (get(row),) for row in rows])


def insert_values(session: Session, model: type[Base], names: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> None:
    """One executemany INSERT of value tuples for the columns ``names``, in the session's transaction.

    The batch pipeline writes thousands of rows whose ids it already allocated. SQLAlchemy's
    per-row parameter compilation cost more than SQLite's own work, so the statement is
    built once per table and column set and the columns' own bind processors (UTC
    datetimes, JSON) are applied here. Column defaults are not: every column that has one
    must be given, or this raises.
    """
    if rows:
        connection = session.connection()
        _execute_many(connection, *_insert_plan(connection.dialect, cast(Table, model.__table__), names), rows)


def update_values(session: Session, model: type[Base], names: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> None:
    """One executemany UPDATE by id: each row holds the values of ``names``, then the id.

    Like :func:`insert_values`, it bypasses the session: instances of these rows already
    loaded keep their old values until expired.
    """
    if rows:
        connection = session.connection()
        _execute_many(connection, *_update_plan(connection.dialect, cast(Table, model.__table__), names), rows)


def _execute_many(connection: Connection, sql: str, processors: tuple[_Processor, ...], rows: Sequence[Sequence[Any]]) -> None:
    processed = [(i, p) for i, p in enumerate(processors) if p is not None]
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for i, process in processed:
            values[i] = process(values[i])
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


def one_of(session: Session, column: InstrumentedAttribute[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` with the values as one parameter (a JSON array on SQLite, an
    array on PostgreSQL): the statement stays the same whatever the count, so it is compiled
    once instead of once per batch with a placeholder per value."""
    if session.get_bind().dialect.name == "postgresql":
        # unnest, not "= ANY(array)": a generic plan compares every row with every element
        array = cast_(bindparam(None, list(values), type_=ARRAY(column.type)), ARRAY(column.type))
        return column.in_(select(func.unnest(array)))
    listed = func.json_each(bindparam(None, json_dumps(list(values)), type_=String())).table_valued("value")
    return column.in_(select(listed.c.value))


def rows_parameter(session: Session, rows: Sequence[Sequence[Any]], names: Sequence[str]) -> dict[str, Any]:
    """A batch of rows as parameters of one statement: ``:rows``, a JSON array of arrays, on
    SQLite (read with ``json_each``); one array per column, named ``names``, on PostgreSQL
    (read with ``unnest``). Like :func:`one_of`, the statement stays the same for any count."""
    if session.get_bind().dialect.name == "sqlite":
        return {"rows": json_dumps(rows)}
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}
