//! Which database the coordinator keeps its state in: an SQLite file (the embedded default)
//! or a PostgreSQL server (`--database postgres://…`), when one machine is not enough or
//! several coordinators share one queue.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

/// Where the store lives, parsed from `--database` / `database` in the configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file, created with its directory when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL server, as a libpq-style URL (`postgres://user:password@host:port/db`, or
    /// `postgres://user@localhost/db?host=/run/postgresql` for a unix socket).
    Postgres(String),
}

/// Which SQL dialect a store speaks. Most statements are the same text on both; the few
/// that differ match on this, side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid database URL {url:?}: {reason}")]
pub struct InvalidDatabaseUrl {
    url: String,
    reason: String,
}

impl DatabaseUrl {
    /// The default: `coordinator.db` in the data directory.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::Sqlite(data_dir.join("coordinator.db"))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = InvalidDatabaseUrl;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| InvalidDatabaseUrl { url: redact(text), reason: reason.to_owned() };
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("it is empty; give postgres://… or the path of an SQLite file"));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            let url = url::Url::parse(text).map_err(|e| invalid(&format!("{e}")))?;
            if url.host_str().is_none_or(str::is_empty) && !url.query_pairs().any(|(key, _)| key == "host") {
                return Err(invalid("it names no server: postgres://USER:PASSWORD@HOST:PORT/DATABASE"));
            }
            return Ok(Self::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(invalid("it names no file: sqlite:///path/to/coordinator.db"));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(invalid(&format!("the scheme {scheme:?} is not supported; use postgres://… or an SQLite file path")));
        }
        Ok(Self::Sqlite(PathBuf::from(text)))
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Shown without the password, so logs and errors never carry it.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// The URL with any password replaced by `***`.
fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_the_right_backend_and_bad_ones_say_why() {
        let cases: &[(&str, Option<DatabaseUrl>)] = &[
            ("postgres://u:p@db.internal:5432/whetstone", Some(DatabaseUrl::Postgres("postgres://u:p@db.internal:5432/whetstone".into()))),
            ("postgresql://u@localhost/w?host=/run/pg", Some(DatabaseUrl::Postgres("postgresql://u@localhost/w?host=/run/pg".into()))),
            ("/var/lib/whetstone/coordinator.db", Some(DatabaseUrl::Sqlite("/var/lib/whetstone/coordinator.db".into()))),
            ("sqlite:///var/lib/w.db", Some(DatabaseUrl::Sqlite("/var/lib/w.db".into()))),
            ("state/coordinator.db", Some(DatabaseUrl::Sqlite("state/coordinator.db".into()))),
            ("mysql://u@host/db", None),
            ("", None),
            ("sqlite://", None),
            ("postgres://", None),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<DatabaseUrl>().ok(), *expected, "{text}");
        }
        let error = "mysql://root:secret@host/db".parse::<DatabaseUrl>().expect_err("mysql is refused").to_string();
        assert!(error.contains("not supported") && !error.contains("secret"), "{error}");
    }

    #[test]
    fn passwords_never_show() {
        let url: DatabaseUrl = "postgres://whetstone:hunter2@db:5432/w".parse().expect("valid");
        assert_eq!(url.to_string(), "postgres://whetstone:***@db:5432/w");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
