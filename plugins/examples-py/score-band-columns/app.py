"""score-band a whole column at a time: the same bands as plugins/examples-py/score-band, with no
object per row (rows.ints reads the column as the host sent it; rows.set answers with one list)."""

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
    rows.set("band", [band(p) for p in rows.ints("points")])


WitWorld = backfill("score-band 1.0.0", process)
