INSERT INTO kept (id, name, old_col, n) VALUES (1, 'a', 'x', 1), (2, 'b', NULL, 2);
