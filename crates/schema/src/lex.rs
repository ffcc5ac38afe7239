//! SQL definitions as tokens: the one lexer behind comparing SQLite statements and renaming a
//! column inside a PostgreSQL definition. It knows string literals, quoted names, words,
//! numbers and comments; everything else is a one-character token. Positions are in characters.

/// How names may be quoted: PostgreSQL only with `"…"`; SQLite also with `` `…` `` and `[…]`
/// (in PostgreSQL `[` is an array subscript).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quoting {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A keyword or a bare name, as written.
    Word,
    /// A quoted name; its value is the name (doubled quotes made one).
    Quoted,
    /// A string literal; its value is its text between the quotes (doubled quotes made one).
    Text,
    /// A number, or any other single character (an operator, a parenthesis).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub value: String,
    /// Where it was written: `chars[start..end]` of [`Lexed::chars`].
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexed {
    pub chars: Vec<char>,
    pub tokens: Vec<Token>,
}

/// The tokens of `sql`, without whitespace and comments.
pub(crate) fn lex(sql: &str, quoting: Quoting) -> Lexed {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let n = chars.len();
    // The body of a quoted token opening at `i`, and where the token ends.
    let quoted = |i: usize, close: char| {
        let mut j = i + 1;
        let mut v = String::new();
        while j < n {
            if chars[j] == close {
                if chars.get(j + 1) == Some(&close) && close != ']' {
                    v.push(close);
                    j += 2;
                    continue;
                }
                break;
            }
            v.push(chars[j]);
            j += 1;
        }
        (v, (j + 1).min(n))
    };
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let start = i;
        let (kind, value) = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            continue;
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < n && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(n);
            continue;
        } else if c == '\'' {
            let (v, next) = quoted(i, '\'');
            i = next;
            (Kind::Text, v)
        } else if c == '"' || (quoting == Quoting::Sqlite && (c == '`' || c == '[')) {
            let (v, next) = quoted(i, if c == '[' { ']' } else { c });
            i = next;
            (Kind::Quoted, v)
        } else if c.is_alphabetic() || c == '_' {
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            (Kind::Word, chars[start..i].iter().collect())
        } else if c.is_ascii_digit() {
            while i < n && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            (Kind::Other, chars[start..i].iter().collect())
        } else {
            i += 1;
            (Kind::Other, c.to_string())
        };
        tokens.push(Token { kind, value, start, end: i });
    }
    Lexed { chars, tokens }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str, q: Quoting) -> Vec<(Kind, String)> {
        lex(sql, q).tokens.into_iter().map(|t| (t.kind, t.value)).collect()
    }

    #[test]
    fn literals_names_words_numbers_and_comments() {
        let t = kinds("CHECK (\"a\"\"b\" > 'it''s' -- no\n /* not */ AND x1 = 2.5)", Quoting::Postgres);
        assert_eq!(
            t,
            [
                (Kind::Word, "CHECK".into()),
                (Kind::Other, "(".into()),
                (Kind::Quoted, "a\"b".into()),
                (Kind::Other, ">".into()),
                (Kind::Text, "it's".into()),
                (Kind::Word, "AND".into()),
                (Kind::Word, "x1".into()),
                (Kind::Other, "=".into()),
                (Kind::Other, "2.5".into()),
                (Kind::Other, ")".into()),
            ]
        );
    }

    #[test]
    fn brackets_quote_names_on_sqlite_only() {
        assert_eq!(kinds("[a b]", Quoting::Sqlite), [(Kind::Quoted, "a b".into())]);
        assert_eq!(kinds("a[1]", Quoting::Postgres).len(), 4);
        // An unterminated quote ends with the text.
        let l = lex("'open", Quoting::Postgres);
        assert_eq!((l.tokens[0].kind, l.tokens[0].end), (Kind::Text, 5));
    }
}
