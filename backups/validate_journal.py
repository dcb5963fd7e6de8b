#!/usr/bin/env python3
"""Validate a guestprep journal (journal.jsonl) line by line against journal-record.schema.json.

Usage: python3 backups/validate_journal.py path/to/journal.jsonl

Every newline-terminated line (LF or CRLF) must be one JSON object that the schema accepts; blank
lines are invalid. The first invalid line is printed as FILE:LINE: ERROR and the exit status is 1.
A final line without a trailing newline is an append that was never acknowledged (a crash
mid-write); it is reported as "unacknowledged partial record (ignored)" and not validated,
because guestprep ignores it too.
Exit status: 0 valid, 1 invalid line, 2 usage error or unreadable file/schema.

Lines are checked one at a time. The rules that relate records to each other (begin first, the
begin record's manifest, step order, backup number = step; backups/README.md, "Integrity checks")
are not checked here: a journal this script accepts can still be one guestprep calls damaged.

Requires the `jsonschema` package (Draft 2020-12 support, version 4 or later).
"""

import json
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.stderr.write("validate_journal.py: the jsonschema package is required (Debian: apt-get install python3-jsonschema; or pip install jsonschema)\n")
    sys.exit(2)

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "journal-record.schema.json")


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _location(error):
    where = "/".join(str(part) for part in error.absolute_path)
    return f" (at {where})" if where else ""


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: python3 backups/validate_journal.py path/to/journal.jsonl\n")
        return 2
    path = argv[1]
    try:
        with open(SCHEMA_PATH, encoding="utf-8") as handle:
            schema = json.load(handle)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as error:
        sys.stderr.write(f"{SCHEMA_PATH}: cannot load schema: {error}\n")
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        sys.stderr.write(f"{path}: {error.strerror or error}\n")
        return 2

    pieces = data.split(b"\n")
    partial = pieces.pop()  # bytes after the last newline; empty when the file ends with one
    counts = {}
    for number, raw in enumerate(pieces, start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            record = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as error:
            print(f"{path}:{number}: not a JSON record: {error}")
            return 1
        errors = list(validator.iter_errors(record))
        if errors:
            # A field failing its record type's rules also leaves the type's fields "unevaluated";
            # report the specific failure, not the consequence.
            specific = [e for e in errors if e.validator != "unevaluatedProperties"]
            best = jsonschema.exceptions.best_match(specific or errors)
            print(f"{path}:{number}: {best.message}{_location(best)}")
            return 1
        counts[record["type"]] = counts.get(record["type"], 0) + 1

    total = len(pieces)
    if partial:
        line = total + 1
        note = ""
        try:
            record = json.loads(partial.decode("utf-8"), parse_constant=_reject_constant)
            if not list(validator.iter_errors(record)):
                # guestprep's reader ignores an unterminated last line even when it decodes: each
                # record is written with its newline in one write(), so it was never acknowledged.
                note = f"; note: it parses as a complete {record['type']} record, but guestprep ignores it too"
        except (UnicodeDecodeError, ValueError):
            pass
        print(f"{path}:{line}: unacknowledged partial record (ignored){note}")

    summary = ", ".join(f"{kind} {count}" for kind, count in counts.items())
    print(f"{path}: {total} valid record{'s' if total != 1 else ''}" + (f" ({summary})" if summary else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
