//! Folders written for other tools are read in place, and adopted with one `stamp`.

use crate::harness::{Kind, Project, TestDb};
use crate::on_both;

on_both!(sqlx_folder_with_no_transaction_marker, |db: &TestDb| {
    let concurrently = if db.kind == Kind::Postgres { "CONCURRENTLY " } else { "" };
    let p = Project::new();
    p.file("20240101000000_users.up.sql", "CREATE TABLE users (id integer PRIMARY KEY, email text);")
        .file("20240101000000_users.down.sql", "DROP TABLE users;")
        .file(
            "20240102000000_email_idx.up.sql",
            &format!("-- no-transaction\nCREATE INDEX {concurrently}users_email ON users (email);"),
        )
        .file("20240102000000_email_idx.down.sql", "DROP INDEX users_email;");
    p.run(db, &["apply"]).ok().stdout_has("Done: 2 steps.");
    let h = p.run(db, &["history", "--json"]).ok().json();
    assert_eq!(h[0]["transaction"], "none");
    assert_eq!(h[0]["parents"][0], "20240101000000");
    p.run(db, &["revert", "--to", "base"]).ok();
    assert!(!db.table_exists("users"));
});

on_both!(diesel_folder_with_metadata, |db: &TestDb| {
    let p = Project::new();
    p.file("2024-01-01-000000_create_users/up.sql", "CREATE TABLE users (id integer PRIMARY KEY);")
        .file("2024-01-01-000000_create_users/down.sql", "DROP TABLE users;")
        .file(
            "2024-01-02-000000_posts/up.sql",
            "CREATE TABLE posts (id integer PRIMARY KEY, user_id integer REFERENCES users (id));",
        )
        .file("2024-01-02-000000_posts/down.sql", "DROP TABLE posts;")
        .file("2024-01-02-000000_posts/metadata.toml", "run_in_transaction = false\n");
    p.run(db, &["apply"]).ok();
    assert!(db.table_exists("posts"));
    let s = p.run(db, &["show", "2024-01-02", "--json"]).ok().json();
    assert_eq!(s["revision"]["tx"], "none");
});

on_both!(adopting_an_existing_database_with_stamp, |db: &TestDb| {
    // A database that sqlx (or a DBA) already migrated to the second revision.
    db.execute("CREATE TABLE users (id integer PRIMARY KEY)");
    db.execute("CREATE TABLE orders (id integer PRIMARY KEY)");
    let p = Project::new();
    p.file("001_users.up.sql", "CREATE TABLE users (id integer PRIMARY KEY);")
        .file("002_orders.up.sql", "CREATE TABLE orders (id integer PRIMARY KEY);")
        .file("003_items.up.sql", "CREATE TABLE items (id integer PRIMARY KEY);");
    p.run(db, &["apply", "--dry-run"]).ok().stdout_has("Plan (3 steps):");
    p.run(db, &["stamp", "002"]).ok();
    p.run(db, &["apply"]).ok().stdout_has("apply    003");
    assert!(db.table_exists("items"));
});
