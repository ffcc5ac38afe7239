// {{name}}: trims and lower-cases `email`, and leaves rows that are already so alone, so the
// backfill writes only what changes. Replace the function with what your backfill does.
// Where speed matters, work a column at a time (no object per row, several times faster):
// `const emails = rows.texts("email")`, then `rows.set("email", newValues, positions)`.

import { backfill } from "runner-plugin";

export const { describe, process } = backfill("{{name}} 0.1.0", (rows) =>
  rows.flatMap((row) => {
    const email = row.text("email");
    const normal = email?.trim().toLowerCase();
    return email === null || normal === email ? [] : [row.update({ email: normal })];
  }),
);
