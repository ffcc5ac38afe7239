INSERT INTO kept_old VALUES (1, 'a@x');
