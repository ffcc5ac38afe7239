-- A column changes type under triggers that name it (`UPDATE OF`, a `WHEN` clause): PostgreSQL
-- refuses to alter it while they exist, so they are dropped before and created after. Before,
-- apply failed with "cannot alter type of a column used in a trigger definition".
CREATE TABLE ledger (id integer PRIMARY KEY, amount integer, note text, seen integer);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER ledger_amount BEFORE UPDATE OF amount ON ledger FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER ledger_note BEFORE UPDATE ON ledger FOR EACH ROW
  WHEN (OLD.note IS DISTINCT FROM NEW.note) EXECUTE FUNCTION touch();
CREATE TRIGGER ledger_other BEFORE UPDATE OF seen ON ledger FOR EACH ROW EXECUTE FUNCTION touch();
