"""Derives `band` from `points`: the Python twin of plugins/examples/score-band."""

from runner_plugin import Rows, backfill


def band(points):
    if points is None:
        return "unranked"
    if points >= 2000:
        return "platinum"
    if points >= 1000:
        return "gold"
    return "silver" if points >= 500 else "bronze"


def process(rows: Rows):
    return [row.update(band=band(row.int("points"))) for row in rows]


WitWorld = backfill("score-band 1.0.0", process)
