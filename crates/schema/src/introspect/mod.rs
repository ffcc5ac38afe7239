//! Reading a [`Schema`] from a live database's catalog.

mod postgres;
pub(crate) mod sqlite;

/// The schema SQLite's tables are named in (`main.users`).
pub use sqlite::MAIN as SQLITE_SCHEMA;

pub use crate::exclude::Exclude;
use crate::model::Schema;
use runner_db::{DbError, Dialect, Driver};

/// Why a schema could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// A catalog query failed.
    #[error("reading the schema: {0}")]
    Db(#[from] DbError),
}

/// The schema of the database `db` is connected to, without what `exclude` leaves out.
pub async fn introspect(db: &mut dyn Driver, exclude: &Exclude) -> Result<Schema, IntrospectError> {
    let mut schema = match db.dialect() {
        Dialect::Postgres => postgres::read(db, exclude).await,
        Dialect::Sqlite => sqlite::read(db, exclude).await,
    }?;
    exclude.apply(&mut schema);
    Ok(schema)
}
