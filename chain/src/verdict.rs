//! Signed verdicts: what a validator stands behind. A [`VerdictStatement`] names the run, the
//! task, the agent and the exact patch graded (by digest), every test's outcome, the result,
//! the grader's version and when; the validator signs its canonical encoding
//! ([`VerdictStatement::encode`]) with its sr25519 hotkey. The coordinator stores the encoding
//! and the signature verbatim and serves them back in the verdict ledger, so anyone holding
//! the metagraph can check each verdict without trusting the coordinator: one changed byte and
//! [`SignedVerdict::verify`] fails.
//!
//! A miner's [`AgentClaim`] does the same for ownership: the miner signs "this agent digest is
//! mine, submitted at this time", so the coordinator cannot hand an agent's score to another
//! hotkey either.
//!
//! The encoding (version 1) is a magic string, a version byte, then the fields in a fixed
//! order: strings as a big-endian u32 length and UTF-8 bytes, enums as one byte, integers
//! big-endian. Nothing is optional and nothing may follow the last field, so each statement
//! has exactly one encoding.

use whetstone_tasks::{Digest, Hotkey, RunId, TestResult, TestStatus, VerdictStatus};

use crate::wallet::{self, HotkeyPair, Scheme};

const VERDICT_MAGIC: &[u8] = b"whetstone-verdict\0";
const CLAIM_MAGIC: &[u8] = b"whetstone-agent-claim\0";
/// The statement encoding this build writes and reads.
pub const STATEMENT_VERSION: u8 = 1;
/// Longest string field accepted when decoding (a test id, the grader version).
const MAX_FIELD: usize = 64 * 1024;
/// Most tests one verdict may list.
const MAX_TESTS: usize = 100_000;

/// What a validator saw when it graded one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictStatement {
    pub run_id: RunId,
    pub task: Digest,
    pub agent: Digest,
    /// sha256 of the patch bytes the validator graded.
    pub patch: Digest,
    /// The signer.
    pub validator: Hotkey,
    /// Resolved, unresolved or patch rejected; an infrastructure failure is no verdict and is
    /// never signed.
    pub status: VerdictStatus,
    /// FAIL_TO_PASS then PASS_TO_PASS outcomes, as graded.
    pub tests: Vec<TestResult>,
    /// The grading software, e.g. `whetstone-validator 0.1.0`.
    pub grader_version: String,
    /// Milliseconds since the Unix epoch.
    pub graded_at_ms: u64,
}

/// A statement's encoding with its signature, exactly as stored and served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedVerdict {
    pub statement: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A miner's signed claim that it submitted an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentClaim {
    pub agent: Digest,
    pub miner: Hotkey,
    /// Milliseconds since the Unix epoch, as the miner's clock had it.
    pub claimed_at_ms: u64,
    pub signature: Vec<u8>,
}

/// Why a statement or claim does not stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("not a whetstone verdict statement (wrong magic bytes)")]
    NotAStatement,
    #[error("statement version {0} is not known to this build (it reads version {STATEMENT_VERSION})")]
    UnknownVersion(u8),
    #[error("statement is truncated at its {0} field")]
    Truncated(&'static str),
    #[error("statement has {0} bytes after its last field")]
    TrailingBytes(usize),
    #[error("statement field {field} is malformed: {reason}")]
    Malformed { field: &'static str, reason: String },
    #[error("an infrastructure failure is not a verdict and cannot be signed")]
    InfraError,
    #[error("the signer {hotkey} is not a valid SS58 hotkey")]
    BadSigner { hotkey: String },
    #[error("signatures must be 64 bytes; this one has {0}")]
    SignatureLength(usize),
    #[error("the signature does not verify for {hotkey}: the statement was changed or not signed by it")]
    BadSignature { hotkey: String },
    #[error("only sr25519 hotkeys sign verdicts and claims; this hotkey is {0}")]
    WrongScheme(&'static str),
}

impl VerdictStatement {
    /// The canonical encoding, the bytes that are signed.
    pub fn encode(&self) -> Result<Vec<u8>, StatementError> {
        let status = status_byte(self.status).ok_or(StatementError::InfraError)?;
        let mut out = Vec::with_capacity(256 + self.tests.iter().map(|t| t.id.len() + 5).sum::<usize>());
        out.extend_from_slice(VERDICT_MAGIC);
        out.push(STATEMENT_VERSION);
        put_str(&mut out, self.run_id.as_str());
        put_str(&mut out, self.task.as_str());
        put_str(&mut out, self.agent.as_str());
        put_str(&mut out, self.patch.as_str());
        put_str(&mut out, self.validator.as_str());
        out.push(status);
        put_u32(&mut out, self.tests.len());
        for test in &self.tests {
            put_str(&mut out, &test.id);
            out.push(test_byte(test.status));
        }
        put_str(&mut out, &self.grader_version);
        out.extend_from_slice(&self.graded_at_ms.to_be_bytes());
        Ok(out)
    }

    /// Reads an encoding back; refuses anything [`Self::encode`] would not have written.
    pub fn decode(bytes: &[u8]) -> Result<Self, StatementError> {
        let mut reader = Reader { bytes, at: 0 };
        if !reader.take_prefix(VERDICT_MAGIC) {
            return Err(StatementError::NotAStatement);
        }
        let version = reader.byte("version")?;
        if version != STATEMENT_VERSION {
            return Err(StatementError::UnknownVersion(version));
        }
        let run_id = RunId::new(reader.string("run id")?);
        let task = reader.digest("task digest")?;
        let agent = reader.digest("agent digest")?;
        let patch = reader.digest("patch digest")?;
        let validator = Hotkey::new(reader.string("validator")?);
        let status = status_of(reader.byte("status")?)
            .ok_or_else(|| StatementError::Malformed { field: "status", reason: "unknown status byte".into() })?;
        let count = reader.u32("test count")? as usize;
        if count > MAX_TESTS {
            return Err(StatementError::Malformed { field: "test count", reason: format!("{count} tests is over {MAX_TESTS}") });
        }
        let mut tests = Vec::with_capacity(count);
        for _ in 0..count {
            let id = reader.string("test id")?;
            let status = test_of(reader.byte("test status")?)
                .ok_or_else(|| StatementError::Malformed { field: "test status", reason: "unknown status byte".into() })?;
            tests.push(TestResult { id, status });
        }
        let grader_version = reader.string("grader version")?;
        let graded_at_ms = u64::from_be_bytes(reader.array::<8>("graded at")?);
        if reader.at != bytes.len() {
            return Err(StatementError::TrailingBytes(bytes.len() - reader.at));
        }
        Ok(Self { run_id, task, agent, patch, validator, status, tests, grader_version, graded_at_ms })
    }

    /// Encodes and signs as `signer`, which must be this statement's validator.
    pub fn sign(&self, signer: &HotkeyPair) -> Result<SignedVerdict, StatementError> {
        if signer.scheme() != Scheme::Sr25519 {
            return Err(StatementError::WrongScheme(signer.scheme().name()));
        }
        if signer.hotkey() != &self.validator {
            return Err(StatementError::BadSignature { hotkey: signer.hotkey().to_string() });
        }
        let statement = self.encode()?;
        let signature = signer.sign(&statement).to_vec();
        Ok(SignedVerdict { statement, signature })
    }
}

impl SignedVerdict {
    /// Decodes the statement and checks the signature against its validator's key.
    pub fn verify(&self) -> Result<VerdictStatement, StatementError> {
        let statement = VerdictStatement::decode(&self.statement)?;
        check_signature(&statement.validator, &self.statement, &self.signature)?;
        Ok(statement)
    }
}

impl AgentClaim {
    /// The bytes a miner signs for `agent`.
    pub fn message(agent: &Digest, miner: &Hotkey, claimed_at_ms: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(CLAIM_MAGIC);
        out.push(STATEMENT_VERSION);
        put_str(&mut out, agent.as_str());
        put_str(&mut out, miner.as_str());
        out.extend_from_slice(&claimed_at_ms.to_be_bytes());
        out
    }

    /// The miner's claim on `agent`, signed now-ish (`claimed_at_ms`).
    pub fn sign(agent: Digest, signer: &HotkeyPair, claimed_at_ms: u64) -> Result<Self, StatementError> {
        if signer.scheme() != Scheme::Sr25519 {
            return Err(StatementError::WrongScheme(signer.scheme().name()));
        }
        let signature = signer.sign(&Self::message(&agent, signer.hotkey(), claimed_at_ms)).to_vec();
        Ok(Self { agent, miner: signer.hotkey().clone(), claimed_at_ms, signature })
    }

    pub fn verify(&self) -> Result<(), StatementError> {
        check_signature(&self.miner, &Self::message(&self.agent, &self.miner, self.claimed_at_ms), &self.signature)
    }
}

fn check_signature(hotkey: &Hotkey, message: &[u8], signature: &[u8]) -> Result<(), StatementError> {
    let public = wallet::public_key_of(hotkey).map_err(|_| StatementError::BadSigner { hotkey: hotkey.to_string() })?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| StatementError::SignatureLength(signature.len()))?;
    if wallet::verify_signature(Scheme::Sr25519, &public, message, &signature) {
        Ok(())
    } else {
        Err(StatementError::BadSignature { hotkey: hotkey.to_string() })
    }
}

/// Checks many verdicts at once: decodes each, then verifies the signatures as schnorrkel
/// batches spread over the machine's cores, falling back to one-by-one checks only inside a
/// batch that fails. Results are in input order.
pub fn verify_all(verdicts: &[SignedVerdict]) -> Vec<Result<VerdictStatement, StatementError>> {
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1).max(1);
    let chunk = verdicts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = verdicts.chunks(chunk).map(|part| scope.spawn(move || verify_batch(part))).collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|_| Vec::new())).collect()
    })
}

/// Signatures verified together per schnorrkel batch.
const BATCH: usize = 256;

fn verify_batch(verdicts: &[SignedVerdict]) -> Vec<Result<VerdictStatement, StatementError>> {
    let mut results = Vec::with_capacity(verdicts.len());
    for group in verdicts.chunks(BATCH) {
        let decoded: Vec<Result<(VerdictStatement, schnorrkel::PublicKey, schnorrkel::Signature), StatementError>> =
            group.iter().map(prepare).collect();
        let ready: Vec<usize> = (0..group.len()).filter(|&i| decoded[i].is_ok()).collect();
        let batch_ok = {
            let context = schnorrkel::signing_context(b"substrate");
            let mut transcripts = Vec::with_capacity(ready.len());
            let mut signatures = Vec::with_capacity(ready.len());
            let mut keys = Vec::with_capacity(ready.len());
            for &i in &ready {
                if let Ok((_, key, signature)) = &decoded[i] {
                    transcripts.push(context.bytes(&group[i].statement));
                    signatures.push(*signature);
                    keys.push(*key);
                }
            }
            schnorrkel::verify_batch(transcripts, &signatures, &keys, false).is_ok()
        };
        for (verdict, prepared) in group.iter().zip(decoded) {
            results.push(prepared.and_then(|(statement, _, _)| {
                if batch_ok {
                    Ok(statement)
                } else {
                    // One bad signature fails the whole batch; find which one by checking each.
                    check_signature(&statement.validator, &verdict.statement, &verdict.signature).map(|()| statement)
                }
            }));
        }
    }
    results
}

fn prepare(verdict: &SignedVerdict) -> Result<(VerdictStatement, schnorrkel::PublicKey, schnorrkel::Signature), StatementError> {
    let statement = VerdictStatement::decode(&verdict.statement)?;
    let hotkey = statement.validator.to_string();
    let public = wallet::public_key_of(&statement.validator).map_err(|_| StatementError::BadSigner { hotkey: hotkey.clone() })?;
    let key = schnorrkel::PublicKey::from_bytes(&public).map_err(|_| StatementError::BadSigner { hotkey: hotkey.clone() })?;
    let bytes: [u8; 64] = verdict.signature.as_slice().try_into().map_err(|_| StatementError::SignatureLength(verdict.signature.len()))?;
    let signature = schnorrkel::Signature::from_bytes(&bytes).map_err(|_| StatementError::BadSignature { hotkey })?;
    Ok((statement, key, signature))
}

fn status_byte(status: VerdictStatus) -> Option<u8> {
    match status {
        VerdictStatus::Resolved => Some(1),
        VerdictStatus::Unresolved => Some(2),
        VerdictStatus::PatchRejected => Some(3),
        VerdictStatus::InfraError => None,
    }
}

fn status_of(byte: u8) -> Option<VerdictStatus> {
    [VerdictStatus::Resolved, VerdictStatus::Unresolved, VerdictStatus::PatchRejected].into_iter().find(|s| status_byte(*s) == Some(byte))
}

fn test_byte(status: TestStatus) -> u8 {
    match status {
        TestStatus::Passed => 1,
        TestStatus::Failed => 2,
        TestStatus::Error => 3,
        TestStatus::Skipped => 4,
        TestStatus::Missing => 5,
    }
}

fn test_of(byte: u8) -> Option<TestStatus> {
    [TestStatus::Passed, TestStatus::Failed, TestStatus::Error, TestStatus::Skipped, TestStatus::Missing]
        .into_iter()
        .find(|s| test_byte(*s) == byte)
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take_prefix(&mut self, prefix: &[u8]) -> bool {
        let ok = self.bytes.starts_with(prefix);
        if ok {
            self.at = prefix.len();
        }
        ok
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], StatementError> {
        let end = self.at.checked_add(N).filter(|&end| end <= self.bytes.len()).ok_or(StatementError::Truncated(field))?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.at..end]);
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, StatementError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, StatementError> {
        Ok(u32::from_be_bytes(self.array::<4>(field)?))
    }

    fn string(&mut self, field: &'static str) -> Result<String, StatementError> {
        let len = self.u32(field)? as usize;
        if len > MAX_FIELD {
            return Err(StatementError::Malformed { field, reason: format!("{len} bytes is over {MAX_FIELD}") });
        }
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len()).ok_or(StatementError::Truncated(field))?;
        let text = std::str::from_utf8(&self.bytes[self.at..end])
            .map_err(|e| StatementError::Malformed { field, reason: e.to_string() })?
            .to_owned();
        self.at = end;
        Ok(text)
    }

    fn digest(&mut self, field: &'static str) -> Result<Digest, StatementError> {
        let text = self.string(field)?;
        text.parse().map_err(|_| StatementError::Malformed { field, reason: format!("{text:?} is not a sha256 hex digest") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(n: u8) -> HotkeyPair {
        HotkeyPair::sr25519_from_seed([n; 32]).expect("seed")
    }

    fn statement(signer: &HotkeyPair) -> VerdictStatement {
        VerdictStatement {
            run_id: RunId::new("run-1"),
            task: Digest::of_bytes(b"task"),
            agent: Digest::of_bytes(b"agent"),
            patch: Digest::of_bytes(b"patch"),
            validator: signer.hotkey().clone(),
            status: VerdictStatus::Resolved,
            tests: vec![
                TestResult { id: "tests/test_a.py::test_fix".into(), status: TestStatus::Passed },
                TestResult { id: "tests/test_a.py::test_old[x\ny]".into(), status: TestStatus::Passed },
            ],
            grader_version: "whetstone-validator 0.1.0".into(),
            graded_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_signed_statement_round_trips_and_verifies() {
        let signer = pair(1);
        let signed = statement(&signer).sign(&signer).expect("sign");
        assert_eq!(signed.verify(), Ok(statement(&signer)));
        assert_eq!(VerdictStatement::decode(&signed.statement), Ok(statement(&signer)));
    }

    #[test]
    fn changing_any_byte_breaks_the_verdict() {
        let signer = pair(2);
        let signed = statement(&signer).sign(&signer).expect("sign");
        for at in 0..signed.statement.len() {
            let mut altered = signed.clone();
            altered.statement[at] ^= 0x01;
            assert!(altered.verify().is_err(), "byte {at} changed and the verdict still verified");
        }
        for at in 0..signed.signature.len() {
            let mut altered = signed.clone();
            altered.signature[at] ^= 0x01;
            assert!(altered.verify().is_err(), "signature byte {at} changed and the verdict still verified");
        }
    }

    #[test]
    fn decoding_refuses_what_encode_would_not_write() {
        let signer = pair(3);
        let bytes = statement(&signer).encode().expect("encode");
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(VerdictStatement::decode(&trailing), Err(StatementError::TrailingBytes(1)));
        assert_eq!(VerdictStatement::decode(&bytes[..bytes.len() - 3]), Err(StatementError::Truncated("graded at")));
        let mut future = bytes.clone();
        future[VERDICT_MAGIC.len()] = 9;
        assert_eq!(VerdictStatement::decode(&future), Err(StatementError::UnknownVersion(9)));
        assert_eq!(VerdictStatement::decode(b"hello"), Err(StatementError::NotAStatement));
    }

    #[test]
    fn an_infrastructure_failure_is_not_signed() {
        let signer = pair(4);
        let mut failed = statement(&signer);
        failed.status = VerdictStatus::InfraError;
        assert_eq!(failed.sign(&signer), Err(StatementError::InfraError));
    }

    #[test]
    fn a_statement_is_signed_only_by_its_validator() {
        let (named, other) = (pair(5), pair(6));
        assert!(matches!(statement(&named).sign(&other), Err(StatementError::BadSignature { .. })));
        // A signature by another key over a statement naming `named` does not verify.
        let mut forged = statement(&named).sign(&named).expect("sign");
        forged.signature = other.sign(&forged.statement).to_vec();
        assert!(matches!(forged.verify(), Err(StatementError::BadSignature { .. })));
    }

    #[test]
    fn batch_verification_finds_the_one_bad_verdict() {
        let signers: Vec<HotkeyPair> = (10..14).map(pair).collect();
        let mut verdicts: Vec<SignedVerdict> = (0..600)
            .map(|i| {
                let signer = &signers[i % signers.len()];
                let mut s = statement(signer);
                s.run_id = RunId::new(format!("run-{i}"));
                s.sign(signer).expect("sign")
            })
            .collect();
        let last = verdicts[377].statement.len() - 1;
        verdicts[377].statement[last] ^= 0xff;
        let results = verify_all(&verdicts);
        assert_eq!(results.len(), 600);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_err(), i == 377, "verdict {i}: {result:?}");
        }
        assert_eq!(results[5].as_ref().map(|s| s.run_id.as_str()), Ok("run-5"));
    }

    #[test]
    fn claims_bind_an_agent_to_its_miner() {
        let miner = pair(7);
        let claim = AgentClaim::sign(Digest::of_bytes(b"agent"), &miner, 42).expect("sign");
        assert_eq!(claim.verify(), Ok(()));
        let stolen = AgentClaim { miner: pair(8).hotkey().clone(), ..claim.clone() };
        assert!(stolen.verify().is_err());
        let moved = AgentClaim { agent: Digest::of_bytes(b"other"), ..claim };
        assert!(moved.verify().is_err());
    }
}
