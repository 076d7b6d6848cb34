"""A row with its labels, written the cheapest way each back end has: on PostgreSQL one statement
whose first part inserts the row (its JSON columns bound as text) and whose label part splits the
row's own `labels` JSON into label rows (json_each_text); on SQLite the row, then the label rows
split by json_each, in the caller's transaction. Runs and evaluations both write this way."""
import json

from sqlalchemy import JSON

ONE_STATEMENT = {"postgresql"}  # back ends where a row and its dependents are one statement
SAVED = "saved"  # the name of the inserted row in the PostgreSQL statement (a CTE)


class RowWithLabels:
    def __init__(self, table, label_table, label_key: str):
        columns = [column.name for column in table.c if column.name != "seq"]
        self.json_columns = [column.name for column in table.c if isinstance(column.type, JSON)]
        self.insert = table.insert().returning(table.c.seq)  # parameters apart: compiled once
        placeholders = ", ".join(f"%({name})s" + ("::json" if name in self.json_columns else "") for name in columns)
        self.row_postgresql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders}) "
                               "RETURNING seq, labels")
        self.labels_postgresql = (f"INSERT INTO {label_table.name} ({label_key}, key, value) SELECT {SAVED}.seq, "
                                  f"l.key, l.value FROM {SAVED}, json_each_text({SAVED}.labels) AS l(key, value)")
        self.labels_sqlite = (f"INSERT INTO {label_table.name} ({label_key}, key, value) "
                              "SELECT ?, key, value FROM json_each(?)")

    def statement(self, **dependents: str) -> str:
        """The PostgreSQL statement: the row, its labels, and `dependents` (name: INSERT ... that may
        read the saved row as `saved`)."""
        parts = [f"{SAVED} AS ({self.row_postgresql})", f"labels AS ({self.labels_postgresql})",
                 *(f"{name} AS ({sql})" for name, sql in dependents.items())]
        return f"WITH {', '.join(parts)} SELECT seq FROM {SAVED}"

    def parameters(self, values: dict, **extra) -> dict:
        return {**values, **{name: json.dumps(values[name]) for name in self.json_columns}, **extra}

    def write_sqlite(self, connection, values: dict) -> int:
        seq = connection.execute(self.insert, values).scalar_one()
        if values["labels"]:
            connection.exec_driver_sql(self.labels_sqlite, (seq, json.dumps(values["labels"])))
        return seq
