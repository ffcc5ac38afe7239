//! Database URLs: which driver they select, and how they are shown (secrets never are).
//!
//! Accepted forms: `postgres://…`/`postgresql://…` URLs, libpq keyword/value strings
//! (`host=db user=app password=… dbname=app`, turned into the equivalent URL), and
//! `sqlite:…`. Masking happens on the raw text before anything parses it, so that a URL too
//! broken to parse (a password with `/`, `#` or `?` in it) is still shown without its secrets.

use crate::dialect::Dialect;
use crate::error::DbError;
use std::fmt;

/// A database URL. `Display` masks the password, so it is safe to log.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    dialect: Dialect,
}

impl DatabaseUrl {
    /// A database URL (`postgres://…`, `postgresql://…`, `sqlite:…`) or a libpq keyword string
    /// (`host=… dbname=…`); an error names what is wrong, with the password masked.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, DbError> {
        let raw = raw.trim();
        if is_keyword_string(raw) {
            let url = keywords_to_url(raw).map_err(|reason| DbError::InvalidUrl { url: mask_url(raw), reason })?;
            return DatabaseUrl::parse(&url);
        }
        let Some(dialect) = Dialect::of_url(raw) else {
            return Err(DbError::UnsupportedUrl { url: mask_url(raw) });
        };
        if dialect == Dialect::Postgres {
            ::url::Url::parse(raw).map_err(|e| DbError::InvalidUrl {
                url: mask_url(raw),
                reason: format!(
                    "{e} (characters such as `/`, `#`, `?` and `@` in a password must be percent-encoded: `%2F`, `%23`, `%3F`, `%40`)"
                ),
            })?;
        }
        Ok(DatabaseUrl { raw: raw.to_string(), dialect })
    }

    /// A SQLite URL for a file path (created on first use).
    pub fn sqlite_file(path: &std::path::Path) -> DatabaseUrl {
        DatabaseUrl { raw: format!("sqlite://{}", path.display()), dialect: Dialect::Sqlite }
    }

    /// The file behind a SQLite URL (`sqlite://app.db`, `sqlite:app.db?mode=rwc`); `None` for
    /// another database or an in-memory one.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        if self.dialect != Dialect::Sqlite {
            return None;
        }
        let rest = self.raw.strip_prefix("sqlite://").or_else(|| self.raw.strip_prefix("sqlite:")).unwrap_or(&self.raw);
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.starts_with(":memory:")).then(|| std::path::PathBuf::from(path))
    }

    /// This URL read from a file in `dir` (`runner.toml`): a relative SQLite path is relative to
    /// `dir`, not to wherever runner was started from. Other URLs are unchanged.
    pub fn relative_to(self, dir: &std::path::Path) -> DatabaseUrl {
        match self.sqlite_path() {
            Some(path) if path.is_relative() => {
                let query = self.raw.find('?').map(|i| &self.raw[i..]).unwrap_or("");
                DatabaseUrl { raw: format!("sqlite://{}{query}", dir.join(path).display()), dialect: Dialect::Sqlite }
            }
            _ => self,
        }
    }

    /// Which database the URL names.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL with its password: only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// `text` (a driver's error, say) with this URL's password replaced by `***` wherever it
    /// appears, in case the driver quoted it.
    pub fn scrub(&self, text: &str) -> String {
        let masked = mask_url(text);
        match password_of(&self.raw).filter(|p| p.len() >= 3) {
            Some(p) => masked.replace(&p, "***"),
            None => masked,
        }
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

/// Query parameters and keywords whose values are secrets: passwords, tokens, keys,
/// signatures (`password`, `sslpassword`, `access_token`, `api_key`, `X-Amz-Signature`, …).
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["pass", "pwd", "token", "secret", "key", "sig", "auth", "credential"].iter().any(|s| n.contains(s))
}

/// Masks every secret in a URL, a libpq keyword/value string, or any text containing them: the
/// password of each `scheme://user:password@host` and the values of secret-named parameters
/// (`?password=`, `&token=`, ` password=` …). Works on text that does not parse.
pub fn mask_url(raw: &str) -> String {
    mask_params(&mask_userinfo(raw))
}

/// `scheme://user:password@host` → `scheme://user:***@host`, for every URL in the text. The
/// password ends at the last `@` of the URL (a raw `/`, `#` or `?` in it does not end it), so a
/// broken URL is masked too; in doubt, more is masked rather than less.
fn mask_userinfo(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find("://") {
        let start = i + 3;
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        // This URL ends at whitespace or a quote (another may follow in the same text).
        let end = after.find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`').unwrap_or(after.len());
        let url = &after[..end];
        match (url.rfind('@'), url.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&url[..=colon]);
                out.push_str("***");
                out.push_str(&url[at..]);
            }
            _ => out.push_str(url),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `name=value` with a secret name → `name=***`, where `name` follows `?`, `&`, whitespace or
/// the start; the value ends at `&`, `#` or whitespace, or is quoted (libpq's `'…'`).
fn mask_params(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let boundary = i == 0 || matches!(bytes[i - 1], b'?' | b'&' | b';') || bytes[i - 1].is_ascii_whitespace();
        if boundary {
            let name_len = text[i..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(0);
            let name = &text[i..i + name_len];
            let after = i + name_len;
            let eq = text[after..].trim_start_matches(' ');
            if name_len > 0 && secret_name(name) && eq.starts_with('=') {
                let mut v = after + (text[after..].len() - eq.len()) + 1;
                while v < bytes.len() && bytes[v] == b' ' {
                    v += 1;
                }
                let end = if bytes.get(v) == Some(&b'\'') {
                    // A quoted libpq value: up to the closing quote (`\'` escapes one).
                    let mut j = v + 1;
                    while j < bytes.len() && bytes[j] != b'\'' {
                        j += if bytes[j] == b'\\' { 2 } else { 1 };
                    }
                    (j + 1).min(bytes.len())
                } else {
                    text[v..].find(|c: char| c == '&' || c == '#' || c.is_whitespace()).map_or(bytes.len(), |j| v + j)
                };
                out.push_str(&text[copied..v]);
                out.push_str("***");
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

/// The password a URL or keyword string carries, decoded, if any.
fn password_of(raw: &str) -> Option<String> {
    if let Ok(u) = ::url::Url::parse(raw) {
        if let Some(p) = u.password() {
            return Some(::url::form_urlencoded::parse(format!("p={p}").as_bytes()).next()?.1.into_owned());
        }
        return u.query_pairs().find(|(k, _)| k.eq_ignore_ascii_case("password")).map(|(_, v)| v.into_owned());
    }
    None
}

/// `host=… dbname=…`: libpq's keyword/value form (no scheme, at least one `key=value`).
fn is_keyword_string(raw: &str) -> bool {
    !raw.contains("://") && !raw.to_ascii_lowercase().starts_with("sqlite:") && {
        let first = raw.split_whitespace().next().unwrap_or("");
        first
            .split_once('=')
            .is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    }
}

/// libpq keyword/value pairs → the equivalent `postgres://` URL, every value percent-encoded.
fn keywords_to_url(raw: &str) -> Result<String, String> {
    let pairs = parse_keywords(raw)?;
    let enc = |s: &str| ::url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut url = String::from("postgres://");
    if let Some(user) = get("user") {
        url.push_str(&enc(user));
        if let Some(p) = get("password") {
            url.push(':');
            url.push_str(&enc(p));
        }
        url.push('@');
    }
    let host = get("host").or(get("hostaddr")).unwrap_or("");
    // A socket folder goes in the query (`?host=/run/postgresql`), as libpq reads it.
    if !host.starts_with('/') {
        url.push_str(host);
    }
    if let Some(port) = get("port") {
        url.push(':');
        url.push_str(port);
    }
    url.push('/');
    url.push_str(&enc(get("dbname").unwrap_or("")));
    let mut query: Vec<String> = Vec::new();
    if host.starts_with('/') {
        query.push(format!("host={}", enc(host)));
    }
    if get("user").is_none() && get("password").is_some() {
        query.push(format!("password={}", enc(get("password").unwrap_or(""))));
    }
    for (k, v) in &pairs {
        if !matches!(k.as_str(), "user" | "password" | "host" | "hostaddr" | "port" | "dbname") {
            query.push(format!("{}={}", enc(k), enc(v)));
        }
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    Ok(url)
}

/// `key=value key='quoted value'` as libpq reads it (backslash escapes inside quotes).
fn parse_keywords(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("`{key}` has no value (expected key=value)"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quoted value for `{key}`")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        pairs.push((key, value));
    }
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
    fn raw_slashes_hashes_and_question_marks_in_a_password_are_masked() {
        // Before, the password ended at the first `/`, `#` or `?` and the rest was shown.
        for secret in ["pa/ss", "pa#ss", "pa?ss", "p@ss", "a/b#c?d"] {
            let masked = mask_url(&format!("postgres://app:{secret}@db.internal:5432/app"));
            assert_eq!(masked, "postgres://app:***@db.internal:5432/app", "{secret}");
            let e = DatabaseUrl::parse(&format!("postgres://app:{secret}@db.internal:5432/app"));
            if let Err(e) = e {
                let e = e.to_string();
                assert!(!e.contains(secret), "{e}");
            }
        }
    }

    #[test]
    fn keyword_strings_and_token_parameters_are_masked() {
        assert_eq!(mask_url("host=db user=app password=s3cret dbname=app"), "host=db user=app password=*** dbname=app");
        assert_eq!(mask_url("host=db password='s3 cret' dbname=x"), "host=db password=*** dbname=x");
        assert_eq!(
            mask_url("https://plugins.internal/x.wasm?token=abc&v=2&X-Amz-Signature=f00"),
            "https://plugins.internal/x.wasm?token=***&v=2&X-Amz-Signature=***"
        );
        assert_eq!(mask_url("https://bob:hunter2@hooks.internal/alert"), "https://bob:***@hooks.internal/alert");
        assert_eq!(
            mask_url("error talking to https://u:pw@h/x: refused"),
            "error talking to https://u:***@h/x: refused"
        );
    }

    #[test]
    fn keyword_strings_are_accepted() {
        let u = DatabaseUrl::parse("host=127.0.0.1 port=5432 user=app password='p w/#' dbname=my_db sslmode=disable")
            .unwrap();
        assert_eq!(u.dialect(), Dialect::Postgres);
        assert_eq!(u.expose(), "postgres://app:p+w%2F%23@127.0.0.1:5432/my_db?sslmode=disable");
        assert!(!u.to_string().contains("p+w"), "{u}");
        let socket = DatabaseUrl::parse("host=/run/postgresql dbname=x").unwrap();
        assert_eq!(socket.expose(), "postgres:///x?host=%2Frun%2Fpostgresql");
        let e = DatabaseUrl::parse("host=h password='hunter2").unwrap_err().to_string();
        assert!(e.contains("unterminated") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn scrub_removes_the_password_wherever_a_driver_quotes_it() {
        let u = DatabaseUrl::parse("postgres://app:topsecret@h/db").unwrap();
        assert_eq!(u.scrub("auth failed (password topsecret)"), "auth failed (password ***)");
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

    #[test]
    fn a_sqlite_url_names_its_file_and_reads_relative_to_its_folder() {
        let file = |u: &str| DatabaseUrl::parse(u).unwrap().sqlite_path();
        assert_eq!(file("sqlite://app.db"), Some("app.db".into()));
        assert_eq!(file("sqlite:data/app.db?mode=rwc"), Some("data/app.db".into()));
        assert_eq!(file("sqlite:///abs/app.db"), Some("/abs/app.db".into()));
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("postgres://u@h/db"), None);
        let dir = std::path::Path::new("/proj");
        let rel = |u: &str| DatabaseUrl::parse(u).unwrap().relative_to(dir).expose().to_string();
        assert_eq!(rel("sqlite://app.db"), "sqlite:///proj/app.db");
        assert_eq!(rel("sqlite:app.db?mode=rwc"), "sqlite:///proj/app.db?mode=rwc");
        assert_eq!(rel("sqlite:///abs/app.db"), "sqlite:///abs/app.db");
        assert_eq!(rel("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(rel("postgres://u@h/db"), "postgres://u@h/db");
    }
}
