// Derives `band` from `points`: the JavaScript twin of plugins/examples/score-band.

import { backfill } from "runner-plugin";

function band(points) {
  if (points === null) return "unranked";
  if (points >= 2000) return "platinum";
  if (points >= 1000) return "gold";
  return points >= 500 ? "silver" : "bronze";
}

export const { describe, process } = backfill("score-band 1.0.0", (rows) =>
  rows.map((row) => row.update({ band: band(row.int("points")) })),
);
