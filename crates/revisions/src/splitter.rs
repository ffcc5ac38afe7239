//! Splits a SQL script into statements, the way psql does it: on `;` outside quotes, comments,
//! dollar-quoted bodies and SQL-standard routine bodies.
//!
//! Why split on the client at all: a no-transaction revision (`CREATE INDEX CONCURRENTLY`) must send
//! one statement per query, because PostgreSQL wraps a multi-statement simple query in an implicit
//! transaction (amacneil/dbmate#285). Splitting also lets errors name the failing statement's line.
//!
//! Understood: `'…'` with `''`, `E'…'` with backslash escapes, `"…"` and `` `…` `` identifiers,
//! `$tag$…$tag$` bodies, `--` and nested `/* */` comments, `BEGIN ATOMIC … END` (PostgreSQL ≥ 14)
//! and SQLite `CREATE TRIGGER … BEGIN … END` bodies, with `CASE … END` nested inside them.

/// One statement of a script and the 1-based line (in its file) where its first token stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Statement {
    /// Its text.
    pub sql: String,
    /// The line of its first token.
    pub line: usize,
}

/// Splits `text`, whose first line is line `first_line` of its file. Statements that are only
/// whitespace and comments are dropped; a last statement without `;` is kept.
pub fn split(text: &str, first_line: usize) -> Vec<Statement> {
    Splitter::new(text, first_line).run()
}

struct Splitter<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    out: Vec<Statement>,
    /// Byte offset and line of the first significant token of the current statement.
    start: Option<(usize, usize)>,
    /// Byte offset just past the last significant token: trailing comments are not part of a
    /// statement, so appending `;` to its text is always safe.
    end: usize,
    /// Nesting of `BEGIN ATOMIC` / trigger `BEGIN` and `CASE` inside them.
    depth: usize,
    /// Upper-cased words of the current statement outside quotes, as far as block detection needs.
    first_word: Option<String>,
    seen_trigger: bool,
    prev_word: String,
}

impl<'a> Splitter<'a> {
    fn new(src: &'a str, first_line: usize) -> Self {
        Splitter {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            line: first_line,
            out: Vec::new(),
            start: None,
            end: 0,
            depth: 0,
            first_word: None,
            seen_trigger: false,
            prev_word: String::new(),
        }
    }

    fn run(mut self) -> Vec<Statement> {
        while self.pos < self.bytes.len() {
            let c = self.bytes[self.pos];
            match c {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                    continue;
                }
                b' ' | b'\t' | b'\r' | 0x0c => {
                    self.pos += 1;
                    continue;
                }
                b'-' if self.peek(1) == Some(b'-') => {
                    self.skip_line_comment();
                    continue;
                }
                b'/' if self.peek(1) == Some(b'*') => {
                    self.skip_block_comment();
                    continue;
                }
                b';' if self.depth == 0 => {
                    self.finish();
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            // A significant token: it starts the statement if nothing has, and extends its end.
            self.mark();
            match c {
                b'\'' => {
                    let escapes = self.is_escape_string();
                    self.skip_quoted(b'\'', escapes);
                }
                b'"' | b'`' => self.skip_quoted(c, false),
                b'$' => match self.dollar_tag() {
                    Some(tag_len) => self.skip_dollar_body(tag_len),
                    None => self.pos += 1,
                },
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => self.word(),
                _ => self.pos += 1,
            }
            self.end = self.pos;
        }
        self.finish();
        self.out
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// Records where the current statement's first significant token is.
    fn mark(&mut self) {
        if self.start.is_none() {
            self.start = Some((self.pos, self.line));
        }
    }

    fn finish(&mut self) {
        if let Some((start, line)) = self.start.take() {
            let sql = self.src[start..self.end.max(start)].trim_end().to_string();
            if !sql.is_empty() {
                self.out.push(Statement { sql, line });
            }
        }
        self.depth = 0;
        self.first_word = None;
        self.seen_trigger = false;
        self.prev_word.clear();
    }

    fn advance_counting_lines(&mut self, to: usize) {
        let to = to.min(self.bytes.len());
        self.line += self.bytes[self.pos..to].iter().filter(|&&b| b == b'\n').count();
        self.pos = to;
    }

    fn skip_line_comment(&mut self) {
        let end = self.src[self.pos..].find('\n').map_or(self.bytes.len(), |i| self.pos + i);
        self.pos = end;
    }

    fn skip_block_comment(&mut self) {
        // PostgreSQL block comments nest.
        let mut depth = 0usize;
        let mut i = self.pos;
        while i < self.bytes.len() {
            if self.bytes[i] == b'/' && self.bytes.get(i + 1) == Some(&b'*') {
                depth += 1;
                i += 2;
            } else if self.bytes[i] == b'*' && self.bytes.get(i + 1) == Some(&b'/') {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    break;
                }
            } else {
                i += 1;
            }
        }
        self.advance_counting_lines(i);
    }

    /// `E'…'` (or `e'…'`) where the `E` is a word of its own, not the end of an identifier.
    fn is_escape_string(&self) -> bool {
        if self.pos == 0 || !matches!(self.bytes[self.pos - 1], b'e' | b'E') {
            return false;
        }
        self.pos < 2 || !is_ident_byte(self.bytes[self.pos - 2])
    }

    fn skip_quoted(&mut self, quote: u8, backslash_escapes: bool) {
        let mut i = self.pos + 1;
        while i < self.bytes.len() {
            let b = self.bytes[i];
            if backslash_escapes && b == b'\\' {
                i += 2;
            } else if b == quote {
                if self.bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    i += 1;
                    break;
                }
            } else {
                i += 1;
            }
        }
        self.advance_counting_lines(i);
    }

    /// Length of a `$tag$` opener at `pos`, if there is one. `$1` (a parameter) is not one, nor is a
    /// `$` that continues an identifier (`a$b`).
    fn dollar_tag(&self) -> Option<usize> {
        if self.pos > 0 && is_ident_byte(self.bytes[self.pos - 1]) {
            return None;
        }
        let rest = &self.bytes[self.pos + 1..];
        let mut n = 0;
        while n < rest.len() && rest[n] != b'$' {
            let b = rest[n];
            let ok = b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 || (n > 0 && b.is_ascii_digit());
            if !ok {
                return None;
            }
            n += 1;
        }
        (n < rest.len()).then_some(n + 2)
    }

    fn skip_dollar_body(&mut self, tag_len: usize) {
        let tag = &self.src[self.pos..self.pos + tag_len];
        let body_start = self.pos + tag_len;
        let end = self.src[body_start..].find(tag).map_or(self.bytes.len(), |i| body_start + i + tag_len);
        self.advance_counting_lines(end);
    }

    fn word(&mut self) {
        let start = self.pos;
        while self.pos < self.bytes.len() && is_ident_byte(self.bytes[self.pos]) {
            self.pos += 1;
        }
        let word = self.src[start..self.pos].to_ascii_uppercase();
        if self.first_word.is_none() {
            self.first_word = Some(word.clone());
        }
        let in_create = self.first_word.as_deref() == Some("CREATE");
        match word.as_str() {
            "TRIGGER" if in_create && self.depth == 0 => self.seen_trigger = true,
            // SQLite trigger bodies: CREATE TRIGGER … BEGIN stmt; stmt; END
            "BEGIN" if in_create && self.seen_trigger && self.depth == 0 => self.depth = 1,
            // PostgreSQL SQL-standard bodies: CREATE FUNCTION … BEGIN ATOMIC stmt; END
            "ATOMIC" if self.prev_word == "BEGIN" && self.depth == 0 => self.depth = 1,
            "CASE" if self.depth > 0 => self.depth += 1,
            "END" if self.depth > 0 => self.depth -= 1,
            _ => {}
        }
        self.prev_word = word;
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(text: &str) -> Vec<String> {
        split(text, 1).into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn splits_on_semicolons_and_keeps_a_last_statement_without_one() {
        assert_eq!(sqls("SELECT 1; SELECT 2;\nSELECT 3"), ["SELECT 1", "SELECT 2", "SELECT 3"]);
    }

    #[test]
    fn semicolons_inside_quotes_and_comments_do_not_split() {
        let text = "INSERT INTO t VALUES ('a;b', \"c;d\"); -- x;y\n/* p; /* nested; */ q; */ SELECT 2;";
        assert_eq!(sqls(text), ["INSERT INTO t VALUES ('a;b', \"c;d\")", "SELECT 2"]);
    }

    #[test]
    fn doubled_quotes_and_escape_strings() {
        let text = "SELECT 'it''s; fine'; SELECT E'back\\'slash;'; SELECT 'plain\\'; SELECT 4;";
        assert_eq!(sqls(text), ["SELECT 'it''s; fine'", "SELECT E'back\\'slash;'", "SELECT 'plain\\'", "SELECT 4"]);
    }

    #[test]
    fn an_identifier_ending_in_e_is_not_an_escape_string() {
        // `some'` is not E'…': the backslash is literal and the string ends at the next quote.
        assert_eq!(sqls("SELECT name'x\\'; SELECT 2"), ["SELECT name'x\\'", "SELECT 2"]);
    }

    #[test]
    fn dollar_quoted_plpgsql_bodies_with_begin_end() {
        let text = "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.x := 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\nCREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\nSELECT $1";
        let out = split(text, 1);
        assert_eq!(out.len(), 3);
        assert!(out[0].sql.ends_with("LANGUAGE plpgsql"));
        assert_eq!(out[1].line, 7);
        assert_eq!(out[2].sql, "SELECT $1");
    }

    #[test]
    fn begin_atomic_bodies() {
        let text = "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT 3;";
        let out = sqls(text);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].ends_with("END"));
        assert_eq!(out[1], "SELECT 3");
    }

    #[test]
    fn transaction_control_begin_is_not_a_block() {
        assert_eq!(sqls("BEGIN; SELECT 1; END;"), ["BEGIN", "SELECT 1", "END"]);
    }

    #[test]
    fn sqlite_trigger_bodies() {
        let text = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = n + 1;\n  INSERT INTO c VALUES (CASE WHEN 1 THEN 2 END);\nEND;\nSELECT 1;";
        let out = sqls(text);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[1], "SELECT 1");
    }

    #[test]
    fn line_numbers_point_at_the_first_token() {
        let text = "-- header\n\nSELECT 1;\n/* c\n */\n  SELECT\n 2;";
        let out = split(text, 10);
        assert_eq!(out[0].line, 12);
        assert_eq!(out[1].line, 15);
    }

    #[test]
    fn trailing_comments_are_not_part_of_a_statement() {
        // So that appending `;` (offline scripts) can never land inside a comment.
        assert_eq!(sqls("SELECT 1 -- one\n;\nSELECT 2 /* two */"), ["SELECT 1", "SELECT 2"]);
        assert_eq!(sqls("SELECT /* inner */ 1;"), ["SELECT /* inner */ 1"]);
    }

    #[test]
    fn comment_only_and_empty_scripts_have_no_statements() {
        assert!(split("", 1).is_empty());
        assert!(split("-- nothing\n/* here */\n;\n", 1).is_empty());
    }

    #[test]
    fn unterminated_constructs_do_not_panic() {
        for text in ["SELECT 'abc", "SELECT $$abc", "/* abc", "SELECT \"x", "SELECT E'\\", "$", "$a"] {
            let _ = split(text, 1);
        }
    }

    #[test]
    fn multibyte_text_is_kept_intact() {
        assert_eq!(sqls("SELECT 'héllo; wörld'; SELECT ünïcode;"), ["SELECT 'héllo; wörld'", "SELECT ünïcode"]);
    }
}
