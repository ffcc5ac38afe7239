//! One narrow async driver trait and its PostgreSQL and SQLite implementations.
//!
//! A driver offers primitives only: run statements in a transaction, run one statement on its
//! own, read rows, reset session state, take an advisory lock. Ordering, checks, state-table
//! layout and lock policy live in the core, so a new driver is small (refinery's tokio-postgres
//! driver is 66 lines for the same reason).

#![warn(missing_docs)]

pub mod backoff;
mod dialect;
mod driver;
mod error;
mod framing;
mod ident;
pub mod interrupt;
mod postgres;
mod role;
mod session;
mod sqlite;
mod transaction_rules;
mod url;
mod value;

pub use dialect::{Dialect, LockKind};
pub use driver::{Access, ConnectOptions, Driver, LockAttempt, ReadLimits, Row, connect};
pub use error::{DbError, StatementFailure};
pub use framing::Framing;
pub use ident::{quote_ident, quote_literal, quote_part};
pub use role::{OUTSIDE_FUNCTIONS, POWERFUL_ROLES, RoleReach, role_reach, session_role};
pub use url::{DatabaseUrl, mask_url};
pub use value::{DbValue, TypedRows};
