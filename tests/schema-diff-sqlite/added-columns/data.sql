INSERT INTO kept (id, name) VALUES (1, 'a'), (2, 'b');
