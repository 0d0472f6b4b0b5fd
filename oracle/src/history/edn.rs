//! A minimal EDN value and printer — just what Jepsen/Elle histories use: nil, booleans,
//! integers, strings, keywords, vectors and maps — and its JSON rendering for JSON lines.

use std::fmt::{self, Write as _};

/// One EDN value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edn {
    Nil,
    Bool(bool),
    Int(i128),
    Str(String),
    /// A keyword, written `:name` (the name without the colon).
    Keyword(&'static str),
    /// A keyword with a name built at run time.
    KeywordOwned(String),
    Vector(Vec<Edn>),
    /// A map; keys keep their insertion order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// An integer.
    pub fn int(n: impl Into<i128>) -> Edn {
        Edn::Int(n.into())
    }

    /// Bytes: a string when they are printable UTF-8 text, else a vector of byte values.
    pub fn bytes(bytes: &[u8]) -> Edn {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.chars().all(|c| !c.is_control()) => Edn::Str(text.to_string()),
            _ => Edn::Vector(bytes.iter().map(|b| Edn::int(*b)).collect()),
        }
    }

    /// Optional bytes: nil when absent.
    pub fn opt_bytes(bytes: Option<&[u8]>) -> Edn {
        bytes.map_or(Edn::Nil, Edn::bytes)
    }

    /// The same value as JSON: keywords become strings, map keys become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Edn::Nil => J::Null,
            Edn::Bool(b) => J::Bool(*b),
            Edn::Int(n) => match (i64::try_from(*n), u64::try_from(*n)) {
                (Ok(n), _) => J::from(n),
                (_, Ok(n)) => J::from(n),
                _ => J::String(n.to_string()),
            },
            Edn::Str(s) => J::String(s.clone()),
            Edn::Keyword(k) => J::String((*k).to_string()),
            Edn::KeywordOwned(k) => J::String(k.clone()),
            Edn::Vector(items) => J::Array(items.iter().map(Edn::to_json).collect()),
            Edn::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(key, value)| {
                        let key = match key.to_json() {
                            J::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, value.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(n) => write!(f, "{n}"),
            Edn::Str(s) => write_string(f, s),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::KeywordOwned(k) => write!(f, ":{k}"),
            Edn::Vector(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Edn::Map(entries) => {
                f.write_char('{')?;
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key} {value}")?;
                }
                f.write_char('}')
            }
        }
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_edn() {
        let value = Edn::Map(vec![
            (Edn::Keyword("index"), Edn::int(0)),
            (
                Edn::Keyword("value"),
                Edn::Vector(vec![Edn::Keyword("r"), Edn::int(3), Edn::Nil]),
            ),
            (Edn::Keyword("s"), Edn::Str("a\"b\\c\n".into())),
        ]);
        assert_eq!(
            value.to_string(),
            r#"{:index 0, :value [:r 3 nil], :s "a\"b\\c\n"}"#
        );
    }

    #[test]
    fn bytes_are_text_or_byte_vectors() {
        assert_eq!(Edn::bytes(b"key").to_string(), "\"key\"");
        assert_eq!(Edn::bytes(&[0, 200]).to_string(), "[0 200]");
        assert_eq!(Edn::opt_bytes(None).to_string(), "nil");
    }

    #[test]
    fn json_keeps_the_structure() {
        let value = Edn::Map(vec![(Edn::Keyword("f"), Edn::Keyword("txn"))]);
        assert_eq!(value.to_json().to_string(), r#"{"f":"txn"}"#);
    }
}
