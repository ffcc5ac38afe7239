// Normalises `email` (trim, lower-case) and leaves rows that are already normal alone, so the
// backfill writes only what changes: the JavaScript twin of plugins/examples/normalise-email.

import { backfill } from "runner-plugin";

export const { describe, process } = backfill("normalise-email 1.0.0", (rows) =>
  rows.flatMap((row) => {
    const email = row.text("email");
    const normal = email?.trim().toLowerCase();
    return email === null || normal === email ? [] : [row.update({ email: normal })];
  }),
);
