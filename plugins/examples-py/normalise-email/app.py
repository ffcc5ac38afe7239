"""Normalises `email` (trim, lower-case) and leaves rows that are already normal alone, so the
backfill writes only what changes: the Python twin of plugins/examples/normalise-email."""

from runner_plugin import Rows, backfill


def process(rows: Rows):
    changes = []
    for row in rows:
        email = row.text("email")
        if email is not None and email.strip().lower() != email:
            changes.append(row.update(email=email.strip().lower()))
    return changes


WitWorld = backfill("normalise-email 1.0.0", process)
