"""Writing a sweep batch's transitions back in one statement.

A clock's transitions change only fields of the dispute (django-fsm). The sweep applies
them to a batch of locked rows in memory, then writes every row back at once, each guarded
by the state it was read in. ``CLOCK_FIELDS`` are the columns written: a test fails if a
clock transition changes a field that is not among them.
"""

from __future__ import annotations

from django.db import connection
from django_fsm import ConcurrentTransition

from disputes.models import Dispute

# The columns a clock's transitions may change: written back for a whole batch at once.
CLOCK_FIELDS = (
    "state",
    "outcome_type",
    "outcome_amount",
    "decided_by",
    "decided_at",
    "finished_at",
    "closing",
    "next_deadline_at",
    "deadline_kind",
    "reminder_at",
    "reminder_kind",
    "escalated_at",
    "arbitration_target_at",
    "arbitration_limit_at",
    "buyer_reply",
    "seller_reply",
    "revision",
    "sweep_failures",
    "sweep_error",
    "sweep_retry_at",
)


NUMERIC_FIELDS = {
    "AutoField",
    "BigAutoField",
    "IntegerField",
    "BigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "DecimalField",
}


def _unnest_update(
    table: str, columns: list[str], values: list[list[object]]
) -> tuple[str, list[object]]:
    """PostgreSQL: the rows as one array per column, a handful of parameters however large
    the batch. A column holding one value for the whole batch (a clock's rows mostly end
    alike: the same state, closing, cleared clock) travels as that one value."""
    pk, state = Dispute._meta.pk, Dispute._meta.get_field("state")
    fields = [pk, state, *(Dispute._meta.get_field(name) for name in CLOCK_FIELDS)]
    names = ["id", "old_state", *columns]
    arrays: list[str] = []  # "name" of each column sent as an array
    array_params: list[object] = []
    scalars: dict[str, tuple[str, object]] = {}  # name -> (cast, value)
    for name, field, column_values in zip(names, fields, values, strict=True):
        cast = field.db_type(connection).split("(")[0]
        first = column_values[0]
        if name != "id" and all(value == first for value in column_values):
            scalars[name] = (cast, field.get_db_prep_save(first, connection))
        else:
            arrays.append(f"%s::{cast}[]")
            array_params.append(
                [field.get_db_prep_save(value, connection) for value in column_values]
            )
    unnested = [name for name in names if name not in scalars]

    def source(name: str) -> tuple[str, list[object]]:
        if name in scalars:
            cast, value = scalars[name]
            return f"%s::{cast}", [value]
        return f"v.{name}", []

    params: list[object] = list(array_params)
    setting = []
    for column in columns:
        expression, extra = source(column)
        setting.append(f"{column} = {expression}")
        params.extend(extra)
    old_state, extra = source("old_state")
    params.extend(extra)
    sql = (
        f"WITH v AS (SELECT * FROM unnest({', '.join(arrays)}) AS t({', '.join(unnested)}))"  # noqa: S608
        f" UPDATE {table} SET {', '.join(setting)}"
        f" FROM v WHERE {table}.id = v.id AND {table}.state = {old_state}"
        f" RETURNING {table}.id"
    )
    return sql, params


def write_batch(rows: list[Dispute], expected: dict[int, str]) -> None:
    """Write the batch's transitions in one statement, each row guarded by the state it was
    read in (the same guard as ``ConcurrentTransitionMixin``, for a set of rows)::

        WITH v(id, old_state, state, ...) AS (VALUES (...), (...))
        UPDATE disputes_dispute SET state = v.state, ... FROM v
        WHERE disputes_dispute.id = v.id AND disputes_dispute.state = v.old_state

    (On PostgreSQL ``v`` is ``unnest`` of one array per column, and a column with one
    value for the whole batch is that value: see ``_unnest_update``.) Raises
    ``ConcurrentTransition`` if any row was not in the state it was read in.
    """
    if not rows:
        return
    fields = [Dispute._meta.get_field(name) for name in CLOCK_FIELDS]
    table = connection.ops.quote_name(Dispute._meta.db_table)
    columns = [connection.ops.quote_name(field.column) for field in fields]
    values = [
        [row.pk for row in rows],
        [expected[row.pk] for row in rows],
        *[[getattr(row, field.attname) for row in rows] for field in fields],
    ]
    # Only quoted names and column types from the model's own metadata are formatted into
    # the SQL below; every value travels as a parameter.
    if connection.vendor == "postgresql":
        sql, params = _unnest_update(table, columns, values)
    else:
        values[2:] = [
            [field.get_db_prep_save(value, connection) for value in column]
            for field, column in zip(fields, values[2:], strict=True)
        ]
        setting = ", ".join(f"{col} = v.{col}" for col in columns)
        guard = (
            f"FROM v WHERE {table}.id = v.id AND {table}.state = v.old_state RETURNING {table}.id"
        )
        # SQLite: numbers are cast; dates and text travel as they are (a CAST to
        # "datetime" would take NUMERIC affinity and turn "2027-01-30 ..." into 2027).
        casts = ", ".join(
            f"CAST(%s AS {f.db_type(connection)})"
            if f.get_internal_type() in NUMERIC_FIELDS
            else "%s"
            for f in [Dispute._meta.pk, Dispute._meta.get_field("state"), *fields]
        )
        sql = (
            f"WITH v(id, old_state, {', '.join(columns)}) AS (VALUES "  # noqa: S608
            + ", ".join([f"({casts})"] * len(rows))
            + f") UPDATE {table} SET {setting} {guard}"  # noqa: S608
        )
        params = [value for row in zip(*values, strict=True) for value in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = len(cursor.fetchall())
    if written != len(rows):
        raise ConcurrentTransition(
            f"{len(rows) - written} of {len(rows)} rows moved under the sweep"
        )
