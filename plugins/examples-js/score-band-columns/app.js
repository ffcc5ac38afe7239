// score-band a whole column at a time: the same bands as plugins/examples-js/score-band, with no
// object per row (rows.ints reads the column as the host sent it; rows.set answers with one array).

import { backfill } from "runner-plugin";

function band(points) {
  if (points === null) return "unranked";
  if (points >= 2000) return "platinum";
  if (points >= 1000) return "gold";
  return points >= 500 ? "silver" : "bronze";
}

export const { describe, process } = backfill("score-band 1.0.0", (rows) => {
  rows.set("band", rows.ints("points").map(band));
});
