//! Database URLs: which driver they select, and how they are shown (passwords never are).

use crate::driver::Dialect;
use crate::error::DbError;
use std::fmt;

/// A database URL. `Display` masks the password, so it is safe to log.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    dialect: Dialect,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<DatabaseUrl, DbError> {
        let lower = raw.to_ascii_lowercase();
        let dialect = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Dialect::Postgres
        } else if lower.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            return Err(DbError::UnsupportedUrl { url: mask_url(raw) });
        };
        if dialect == Dialect::Postgres {
            ::url::Url::parse(raw).map_err(|e| DbError::InvalidUrl { url: mask_url(raw), reason: e.to_string() })?;
        }
        Ok(DatabaseUrl { raw: raw.to_string(), dialect })
    }

    /// A SQLite URL for a file path (created on first use).
    pub fn sqlite_file(path: &std::path::Path) -> DatabaseUrl {
        DatabaseUrl { raw: format!("sqlite://{}", path.display()), dialect: Dialect::Sqlite }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL with its password: only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_url(&self.raw))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", mask_url(&self.raw))
    }
}

/// Replaces the password in a URL (user-info part and `password=` query parameters) with `***`.
/// Works on text that does not parse as a URL too, so an invalid URL can still be shown.
pub fn mask_url(raw: &str) -> String {
    let mut out = raw.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find(['/', '?', '#']).map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    // Query parameters named password (libpq accepts `?password=`).
    let mut masked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let boundary_ok = i == 0 || matches!(rest.as_bytes()[i - 1], b'?' | b'&');
        let value_start = i + "password=".len();
        masked.push_str(&rest[..value_start]);
        if boundary_ok {
            let end = rest[value_start..].find(['&', '#']).map_or(rest.len(), |j| value_start + j);
            masked.push_str("***");
            rest = &rest[end..];
        } else {
            rest = &rest[value_start..];
        }
    }
    masked.push_str(rest);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(mask_url("postgres://u:s3cret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(mask_url("postgres://u:p%40ss@h/db?sslmode=require"), "postgres://u:***@h/db?sslmode=require");
        assert_eq!(
            mask_url("postgres://h/db?user=u&password=x&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_url("sqlite://runner.db"), "sqlite://runner.db");
        assert_eq!(mask_url("mysql://root:pw@h/x"), "mysql://root:***@h/x");
    }

    #[test]
    fn unsupported_urls_are_rejected_without_showing_the_password() {
        let e = DatabaseUrl::parse("mysql://root:pw@h/x").unwrap_err().to_string();
        assert!(e.contains("mysql://root:***@h/x") && !e.contains("pw"), "{e}");
    }

    #[test]
    fn display_masks() {
        let u = DatabaseUrl::parse("postgresql://a:b@c/d").unwrap();
        assert_eq!(u.to_string(), "postgresql://a:***@c/d");
        assert_eq!(format!("{u:?}"), "DatabaseUrl(postgresql://a:***@c/d)");
        assert_eq!(u.expose(), "postgresql://a:b@c/d");
    }
}
