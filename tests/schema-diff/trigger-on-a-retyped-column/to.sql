CREATE TABLE ledger (id integer PRIMARY KEY, amount bigint, note varchar(200), seen integer);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER ledger_amount BEFORE UPDATE OF amount ON ledger FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER ledger_note BEFORE UPDATE ON ledger FOR EACH ROW
  WHEN (OLD.note IS DISTINCT FROM NEW.note) EXECUTE FUNCTION touch();
CREATE TRIGGER ledger_other BEFORE UPDATE OF seen ON ledger FOR EACH ROW EXECUTE FUNCTION touch();
