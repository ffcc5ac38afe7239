CREATE TABLE kept (id integer PRIMARY KEY, note text);
CREATE TABLE "New Table" ("Mixed Case" text NOT NULL, "with""quote" integer DEFAULT 7, PRIMARY KEY ("Mixed Case"));
CREATE TABLE empty_one ();
