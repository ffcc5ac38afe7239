INSERT INTO kept VALUES (1, 'a'), (2, 'b');
INSERT INTO child VALUES (10, 1), (11, 2);
