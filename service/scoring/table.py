"""The ground-truth table QA engineers keep in spreadsheets, read as seqeval sentences.

A CSV (comma, semicolon or tab separated, optionally with a UTF-8 BOM) with a header naming the
columns `reference` and `prediction`, usually `token`, and optionally `sentence_id` (or `sentence`).
One row per token. A blank row ends a sentence, and so does a change of sentence id.
"""
import csv
import io

from ..errors import MalformedRequest, ValidationFailed

_SENTENCE_COLUMNS = ("sentence_id", "sentence")


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={"body": [message]})


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(f"the table is not UTF-8 text: {exc}") from None


def _header(reader, delimiter: str) -> dict:
    header = next(reader, None)
    if not header:
        raise _invalid("The table is empty; the first row must name the columns token, reference, prediction.")
    columns = {name.strip().lower(): index for index, name in enumerate(header)}
    missing = [name for name in ("reference", "prediction") if name not in columns]
    if missing:
        raise _invalid(f"The header lacks column(s) {', '.join(missing)} (found: {', '.join(columns)}; "
                       f"separator {delimiter!r}).")
    return columns


def read_tag_table(text: str) -> tuple[list[list[str]], list[list[str]]]:
    """(predictions, references): one list of tags per sentence."""
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = _header(reader, delimiter)
    sentence_column = next((columns[name] for name in _SENTENCE_COLUMNS if name in columns), None)
    sentences, current, current_id = [], [], None
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            current = _close(sentences, current)
            continue
        if sentence_column is not None:
            row_id = _cell(row, sentence_column, line, "sentence id", required=False)
            if current and row_id != current_id:
                current = _close(sentences, current)
            current_id = row_id
        current.append((_cell(row, columns["reference"], line, "reference"),
                        _cell(row, columns["prediction"], line, "prediction")))
    _close(sentences, current)
    if not sentences:
        raise _invalid("The table has a header but no rows.")
    return [[p for _, p in s] for s in sentences], [[r for r, _ in s] for s in sentences]


def _close(sentences: list, current: list) -> list:
    """End the current sentence (if it has rows); the next one starts empty."""
    if current:
        sentences.append(current)
    return []


def _cell(row: list, index: int, line: int, name: str, required: bool = True) -> str:
    value = row[index].strip() if index < len(row) else ""
    if required and not value:
        raise _invalid(f"Line {line}: the {name} cell is empty.")
    return value
