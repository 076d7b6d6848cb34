"""What lists of runs and of evaluations share: times kept as naive UTC, the filters by label and
time, and keyset pagination (newest first, an opaque cursor, no OFFSET scans)."""
import base64
import json
from datetime import datetime, timezone

from sqlalchemy import and_, or_, select

from ..errors import ValidationFailed

MAX_LIMIT = 200  # the most items one page holds (the list query schemas' `limit`)


def as_stored(moment: datetime) -> datetime:
    """An aware time as the store keeps it: naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def now() -> datetime:
    return as_stored(datetime.now(timezone.utc))


def narrowed(statement, query: dict, time_column, seq_column, label_seq_column):
    """`statement` kept to the rows with every label of query["labels"] (key:value rows in the table of
    `label_seq_column`, an indexed join) and a time in [since, until)."""
    labels = label_seq_column.table.c
    for key, value in query.get("labels", {}).items():
        statement = statement.where(seq_column.in_(select(label_seq_column).where(labels.key == key,
                                                                                 labels.value == value)))
    if query.get("since"):
        statement = statement.where(time_column >= query["since"])
    if query.get("until"):
        statement = statement.where(time_column < query["until"])
    return statement


def encode(moment: datetime, seq: int) -> str:
    raw = json.dumps([moment.isoformat(), seq]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, int]:
    try:
        moment, seq = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError
        return datetime.fromisoformat(moment), seq
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not one this service gave out",
                               errors={"cursor": ["Not a valid cursor; pass the `next` of an earlier page."]}) from None


def after(time_column, seq_column, cursor: str | None):
    """The condition for rows after `cursor` in (time, seq) descending order, or None."""
    if not cursor:
        return None
    moment, seq = decode(cursor)
    return or_(time_column < moment, and_(time_column == moment, seq_column < seq))


def newest_first(statement, time_column, seq_column, cursor, limit):
    condition = after(time_column, seq_column, cursor)
    if condition is not None:
        statement = statement.where(condition)
    return statement.order_by(time_column.desc(), seq_column.desc()).limit(limit + 1)


def page(rows: list, limit: int, moment_of, render) -> tuple[list, str | None]:
    """The first `limit` rows rendered, and the cursor of the next page when there is one."""
    more = len(rows) > limit
    rows = rows[:limit]
    following = encode(moment_of(rows[-1]), rows[-1].seq) if more and rows else None
    return [render(row) for row in rows], following


def iso(moment: datetime | None) -> str | None:
    """A stored time (naive UTC) as ISO 8601 with its Z."""
    return None if moment is None else moment.isoformat() + "Z"
