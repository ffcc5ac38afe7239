//! Reading a [`Schema`] from a live database's catalog.

mod postgres;
pub(crate) mod sqlite;

/// The schema SQLite's tables are named in (`main.users`).
pub use sqlite::MAIN as SQLITE_SCHEMA;

use crate::model::{Name, Schema};
use runner_db::{DbError, Dialect, Driver};

/// Why a schema could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// A catalog query failed.
    #[error("reading the schema: {0}")]
    Db(#[from] DbError),
}

/// What to leave out: tables runner keeps for itself (its state table) are not the user's schema.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    /// Tables to leave out.
    pub tables: Vec<Name>,
}

/// The schema of the database `db` is connected to.
pub async fn introspect(db: &mut dyn Driver, exclude: &Exclude) -> Result<Schema, IntrospectError> {
    match db.dialect() {
        Dialect::Postgres => postgres::read(db, exclude).await,
        Dialect::Sqlite => sqlite::read(db, exclude).await,
    }
}
