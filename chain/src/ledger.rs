//! Where weights go. A validator submits through a [`WeightLedger`]; devnet and tests use
//! [`FileLedger`], an append-only JSON-lines file, and the subxt client will implement the
//! same trait against subtensor's `set_weights` / `commit_timelocked_weights`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One `set_weights` call as a validator would make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightSubmission {
    pub netuid: u16,
    /// The validator's hotkey (SS58).
    pub validator: String,
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
    pub version_key: u64,
    /// Milliseconds since the Unix epoch.
    pub submitted_at_ms: u64,
    /// The extrinsic that carried the weights, when they went on chain (`0x…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extrinsic: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("uids and weights differ in length ({uids} vs {weights})")]
    LengthMismatch { uids: usize, weights: usize },
    #[error("failed to write the weight ledger at {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("weight ledger at {path} has a malformed line {line}")]
    Corrupt {
        path: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// The seam between weight computation and the chain.
pub trait WeightLedger: Send + Sync {
    /// Submits weights; returns an identifier of the submission (an extrinsic hash on chain).
    fn set_weights(&self, submission: &WeightSubmission) -> Result<String, LedgerError>;
}

/// An append-only JSON-lines file of submissions.
#[derive(Debug, Clone)]
pub struct FileLedger {
    path: PathBuf,
}

impl FileLedger {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every submission so far, oldest first.
    pub fn submissions(&self) -> Result<Vec<WeightSubmission>, LedgerError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(LedgerError::Io { path: self.path.display().to_string(), source }),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|source| LedgerError::Corrupt {
                    path: self.path.display().to_string(),
                    line: i + 1,
                    source,
                })
            })
            .collect()
    }
}

impl WeightLedger for FileLedger {
    fn set_weights(&self, submission: &WeightSubmission) -> Result<String, LedgerError> {
        if submission.uids.len() != submission.weights.len() {
            return Err(LedgerError::LengthMismatch { uids: submission.uids.len(), weights: submission.weights.len() });
        }
        let io = |source| LedgerError::Io { path: self.path.display().to_string(), source };
        let mut line = serde_json::to_string(submission).map_err(|e| io(e.into()))?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        let count = self.submissions()?.len();
        Ok(format!("local-{count}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions_append_and_read_back() {
        let dir = tempfile_dir();
        let ledger = FileLedger::new(dir.join("weights.jsonl"));
        let submission = WeightSubmission {
            netuid: 1,
            validator: "5Val".into(),
            uids: vec![0, 2],
            weights: vec![65535, 100],
            version_key: 1,
            submitted_at_ms: 7,
            extrinsic: Some("0xabc".into()),
        };
        assert_eq!(ledger.set_weights(&submission).expect("first"), "local-1");
        assert_eq!(ledger.set_weights(&submission).expect("second"), "local-2");
        assert_eq!(ledger.submissions().expect("read"), vec![submission.clone(), submission]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn mismatched_lengths_are_refused() {
        let ledger = FileLedger::new("/nonexistent/never-written.jsonl");
        let bad = WeightSubmission {
            netuid: 1,
            validator: "v".into(),
            uids: vec![1],
            weights: vec![],
            version_key: 0,
            submitted_at_ms: 0,
            extrinsic: None,
        };
        assert!(matches!(ledger.set_weights(&bad), Err(LedgerError::LengthMismatch { .. })));
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("whetstone-ledger-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }
}
