INSERT INTO kept (id, email, score) VALUES (1, 'a@x', 3), (2, 'b@x', 4);
