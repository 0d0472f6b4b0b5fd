//! `ConfigError`: why a config was rejected. It always names the file (or other origin), and
//! when it can, the key as a dotted path (`storage.page_size`, `workload[2].kind`) and what
//! was expected there.

use std::fmt;

/// A rejected config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file path, or a name such as `<default>` for text that came from elsewhere.
    pub origin: String,
    /// The dotted key path, when the problem has one.
    pub key: Option<String>,
    /// 1-based line and column of the problem in the text, when known.
    pub position: Option<(usize, usize)>,
    /// What was expected (and, where useful, what was found).
    pub message: String,
}

impl ConfigError {
    /// An error at `key` of `origin`.
    pub fn at(origin: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: origin.into(),
            key: Some(key.into()),
            position: None,
            message: message.into(),
        }
    }

    /// An error about `origin` as a whole (unreadable file, TOML syntax).
    pub fn whole(origin: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: origin.into(),
            key: None,
            position: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}
