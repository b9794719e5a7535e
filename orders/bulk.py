"""Writing many new rows at once, at the speed of the database.

``insert_rows`` is ``bulk_create`` for the write paths that make thousands of rows per
transaction (the deadline sweep's events, outbox rows and refunds): on PostgreSQL the ids
are drawn from the table's own sequence in one query and the rows travel by ``COPY``, so
that no per-field preparation or SQL parameter is built per row. Elsewhere (SQLite) it is
``bulk_create``. It knows nothing of any app: the lowest layer may offer it to every other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

# The sequence behind each table's id, looked up once per process.
_SEQUENCES: dict[str, str] = {}


def next_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new ids for ``model``'s table, from its own sequence (PostgreSQL)."""
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if table not in _SEQUENCES:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, model._meta.pk.column])
            _SEQUENCES[table] = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [_SEQUENCES[table], count])
        return [row[0] for row in cursor.fetchall()]


def copy_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """``COPY`` ready rows (values in ``columns`` order, as the database stores them) into
    ``model``'s table, in the current transaction (PostgreSQL)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    """How a value of ``field`` goes into COPY, when psycopg's own dumper will not do."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder

        def dump_json(value: Any) -> str | None:
            return None if value is None else json.dumps(value, cls=encoder)

        return dump_json
    if isinstance(field, models.CharField | models.TextField):
        # Lazy translations and choices enums become the plain strings Django would store.
        return lambda value: value if value is None or type(value) is str else str(value)
    if isinstance(field, models.UUIDField):
        return lambda value: value if value is None else str(value)
    return None


def insert_rows(model: type[models.Model], objs: list[models.Model]) -> list[models.Model]:
    """Save new, unsaved instances of ``model`` in bulk, like ``bulk_create``: each gets its
    id, and is marked saved. No signals, no ``save()`` (as with ``bulk_create``).

    Every concrete field is written as the instance holds it; a field's default has been
    applied when the instance was made."""
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objs)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    converters = [_converter(f) for f in fields]
    attnames = [f.attname for f in fields]
    ids = next_ids(model, len(objs))
    alias = connection.alias
    rows = []
    for obj, pk in zip(objs, ids, strict=True):
        # As bulk_create does: refuse an unsaved related object, take the id of one
        # saved since it was assigned.
        obj._prepare_related_fields_for_save(operation_name="insert_rows")
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias
        values = [getattr(obj, name) for name in attnames]
        for i, convert in enumerate(converters):
            if convert is not None:
                values[i] = convert(values[i])
        rows.append((pk, *values))
    copy_rows(model, [model._meta.pk.column, *(f.column for f in fields)], rows)
    return objs
