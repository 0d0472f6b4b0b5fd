//! Reading EDN back: the subset `Edn` prints (nil, booleans, integers, strings with the
//! writer's escapes, keywords, vectors, maps; commas are whitespace). Enough to read a
//! history braid wrote, or one written in the same form by hand, for round-trip checks.

use super::edn::Edn;

/// Parses one EDN value; `Err` says what was expected at which byte.
pub fn parse_edn(text: &str) -> Result<Edn, String> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = reader.value()?;
    reader.skip_space();
    if reader.at != reader.bytes.len() {
        return Err(reader.expected("the end of the value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn expected(&self, what: &str) -> String {
        let found = self
            .bytes
            .get(self.at)
            .map_or("the end".to_string(), |b| format!("{:?}", char::from(*b)));
        format!("byte {}: expected {what}, found {found}", self.at)
    }

    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b',')
        {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<Edn, String> {
        self.skip_space();
        match self.bytes.get(self.at) {
            Some(b'{') => self.map(),
            Some(b'[') => self.vector(),
            Some(b'"') => self.string(),
            Some(b':') => {
                self.at += 1;
                Ok(Edn::KeywordOwned(self.symbol()))
            }
            Some(b) if b.is_ascii_digit() || *b == b'-' => self.integer(),
            Some(_) => match self.symbol().as_str() {
                "nil" => Ok(Edn::Nil),
                "true" => Ok(Edn::Bool(true)),
                "false" => Ok(Edn::Bool(false)),
                _ => Err(self.expected("a value")),
            },
            None => Err(self.expected("a value")),
        }
    }

    fn symbol(&mut self) -> String {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(|b| {
            !b.is_ascii_whitespace() && !matches!(b, b',' | b'[' | b']' | b'{' | b'}' | b'"')
        }) {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned()
    }

    fn integer(&mut self) -> Result<Edn, String> {
        let start = self.at;
        let text = self.symbol();
        text.parse::<i128>().map(Edn::Int).map_err(|_| {
            self.at = start;
            self.expected("an integer")
        })
    }

    fn string(&mut self) -> Result<Edn, String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.bytes.get(self.at) {
                None => return Err(self.expected("the closing quote")),
                Some(b'"') => break,
                Some(b'\\') => {
                    let escaped = match self.bytes.get(self.at + 1) {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        _ => return Err(self.expected("an escape (\\\" \\\\ \\n \\r \\t)")),
                    };
                    out.push(escaped);
                    self.at += 2;
                }
                Some(b) => {
                    out.push(*b);
                    self.at += 1;
                }
            }
        }
        self.at += 1;
        String::from_utf8(out)
            .map(Edn::Str)
            .map_err(|_| "a string that is not UTF-8".to_string())
    }

    fn vector(&mut self) -> Result<Edn, String> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.bytes.get(self.at) == Some(&b']') {
                self.at += 1;
                return Ok(Edn::Vector(items));
            }
            if self.at >= self.bytes.len() {
                return Err(self.expected("']'"));
            }
            items.push(self.value()?);
        }
    }

    fn map(&mut self) -> Result<Edn, String> {
        self.at += 1;
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            if self.bytes.get(self.at) == Some(&b'}') {
                self.at += 1;
                return Ok(Edn::Map(entries));
            }
            if self.at >= self.bytes.len() {
                return Err(self.expected("'}'"));
            }
            let key = self.value()?;
            let value = self.value()?;
            entries.push((key, value));
        }
    }
}

impl Edn {
    /// The value under keyword `key` of a map (None for other values or a missing key).
    pub fn get(&self, key: &str) -> Option<&Edn> {
        let Edn::Map(entries) = self else {
            return None;
        };
        entries
            .iter()
            .find(|(k, _)| k.keyword_name() == Some(key))
            .map(|(_, v)| v)
    }

    /// The name of a keyword.
    pub fn keyword_name(&self) -> Option<&str> {
        match self {
            Edn::Keyword(k) => Some(k),
            Edn::KeywordOwned(k) => Some(k),
            _ => None,
        }
    }

    /// An integer's value.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Edn::Int(n) => Some(*n),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_writer_prints_reads_back() {
        let value = Edn::Map(vec![
            (Edn::Keyword("index"), Edn::int(-7)),
            (
                Edn::Keyword("value"),
                Edn::Vector(vec![
                    Edn::Vector(vec![Edn::Keyword("r"), Edn::int(3), Edn::Nil]),
                    Edn::Bool(true),
                ]),
            ),
            (Edn::Keyword("s"), Edn::Str("a\"b\\c\n\t".into())),
            (Edn::Keyword("m"), Edn::Map(vec![])),
        ]);
        let read = parse_edn(&value.to_string()).expect("reads back");
        assert_eq!(read.to_string(), value.to_string());
        assert_eq!(read.get("index").and_then(Edn::as_int), Some(-7));
        assert_eq!(read.get("s"), Some(&Edn::Str("a\"b\\c\n\t".into())));
    }

    #[test]
    fn malformed_text_is_an_error_naming_the_byte() {
        for (text, at) in [
            ("{:a 1", "byte 5"),
            ("[1 2", "byte 4"),
            ("\"open", "byte 5"),
            ("{:a 1} x", "byte 7"),
            ("wat", "byte 3"),
            ("12ab", "byte 0"),
        ] {
            let err = parse_edn(text).expect_err(text);
            assert!(err.starts_with(at), "{text}: {err}");
        }
    }
}
