//! Redundant grading's rules, apart from the scheduler that applies them: whether a reported
//! verdict may enter the ledger ([`check_verdict`]), and whether a run whose slots are all
//! filled needs one more grade ([`next_grade`]): a dispute when its verdicts disagree, an audit
//! for a random share of the runs whose verdicts agree.

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use whetstone_chain::verdict::{SignedVerdict, VerdictStatement};
use whetstone_proto::job::GradeReport;
use whetstone_tasks::{Hotkey, RunId, VerdictStatus};

use crate::store::{GradePurpose, GradeSubject, RunGrading};

/// The `[grading]` table of the coordinator configuration.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradingConfig {
    /// Distinct validators that grade each run. Default 2; 1 suits a subnet with a single
    /// validator (its verdict alone then decides).
    pub replicas: u32,
    /// Extra grades a run may get because its verdicts disagree. Default 2. An extra grade
    /// goes to a validator that has not graded the run, so it waits until one connects: with
    /// no more validators than replicas, set this and `audit_fraction` to 0.
    pub max_disputes: u32,
    /// Share of the runs whose verdicts agree that get one more grade from another validator,
    /// picked at random (unpredictably to validators). Default 0.05.
    pub audit_fraction: f64,
}

impl Default for GradingConfig {
    fn default() -> Self {
        Self { replicas: 2, max_disputes: 2, audit_fraction: 0.05 }
    }
}

impl GradingConfig {
    /// The configuration's mistakes, named.
    pub fn check(&self) -> Result<(), String> {
        if self.replicas == 0 {
            return Err("grading.replicas must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.audit_fraction) {
            return Err(format!("grading.audit_fraction must be between 0 and 1, not {}", self.audit_fraction));
        }
        Ok(())
    }
}

/// Why a reported verdict is refused a place in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the verdict is not signed (validators must sign their verdicts; upgrade the validator)")]
    Unsigned,
    #[error("the verdict's signature or encoding is invalid: {0}")]
    Invalid(String),
    #[error("the verdict is signed by {signed} but the session belongs to {session}")]
    WrongSigner { signed: Hotkey, session: Hotkey },
    #[error("the signed statement names {field} {signed}, but the grade is about {expected}")]
    WrongSubject { field: &'static str, signed: String, expected: String },
    #[error("the signed result is {signed} but the report says {reported}")]
    WrongStatus { signed: &'static str, reported: &'static str },
}

/// Checks that `report` carries a verdict the ledger may keep: signed by the session's hotkey,
/// about this grade's run, task, agent and patch, with the result the report states.
pub fn check_verdict(report: &GradeReport, subject: &GradeSubject, session: &Hotkey) -> Result<(SignedVerdict, VerdictStatement), Refused> {
    check_verified(report, verify_signature(report), subject, session)
}

/// The statement `report`'s signature vouches for: the costly half of [`check_verdict`], done
/// where the report arrives (each worker session's own task), so the scheduler, which handles
/// every report in turn, only compares what it names ([`check_verified`]).
pub fn verify_signature(report: &GradeReport) -> Result<VerdictStatement, Refused> {
    let signed = report.signed.as_ref().ok_or(Refused::Unsigned)?;
    signed.verify().map_err(|e| Refused::Invalid(e.to_string()))
}

/// [`check_verdict`] given what [`verify_signature`] said about this report.
pub fn check_verified(
    report: &GradeReport,
    verified: Result<VerdictStatement, Refused>,
    subject: &GradeSubject,
    session: &Hotkey,
) -> Result<(SignedVerdict, VerdictStatement), Refused> {
    let statement = verified?;
    let signed = report.signed.clone().ok_or(Refused::Unsigned)?;
    if &statement.validator != session {
        return Err(Refused::WrongSigner { signed: statement.validator, session: session.clone() });
    }
    let fields = [
        ("run", statement.run_id.as_str(), subject.run_id.as_str()),
        ("task", statement.task.as_str(), subject.task.as_str()),
        ("agent", statement.agent.as_str(), subject.agent.as_str()),
        ("patch", statement.patch.as_str(), subject.patch.as_str()),
    ];
    for (field, signed, expected) in fields {
        if signed != expected {
            return Err(Refused::WrongSubject { field, signed: signed.to_owned(), expected: expected.to_owned() });
        }
    }
    if statement.status != report.verdict.status {
        return Err(Refused::WrongStatus { signed: statement.status.as_str(), reported: report.verdict.status.as_str() });
    }
    Ok((signed, statement))
}

/// The grade a run needs next, if any, once none of its slots is open. `audit_seed` is the
/// coordinator's secret: whether a run is audited cannot be predicted from its id.
pub fn next_grade(run_id: &RunId, grading: &RunGrading, config: &GradingConfig, audit_seed: &[u8; 32]) -> Option<GradePurpose> {
    if grading.slots.iter().any(|(_, open)| *open) {
        return None;
    }
    let resolved: Vec<bool> = grading
        .statements
        .iter()
        .filter_map(|bytes| VerdictStatement::decode(bytes).ok())
        .map(|statement| statement.status == VerdictStatus::Resolved)
        .collect();
    let count = |purpose| u32::try_from(grading.slots.iter().filter(|(p, _)| *p == purpose).count()).unwrap_or(u32::MAX);
    let disagree = resolved.iter().any(|r| *r != resolved[0]);
    if disagree {
        return (count(GradePurpose::Dispute) < config.max_disputes).then_some(GradePurpose::Dispute);
    }
    let audited = count(GradePurpose::Audit) > 0;
    (!resolved.is_empty() && !audited && picked_for_audit(run_id, config.audit_fraction, audit_seed)).then_some(GradePurpose::Audit)
}

/// A keyed hash of the run id against the fraction: the same run always gets the same answer.
fn picked_for_audit(run_id: &RunId, fraction: f64, seed: &[u8; 32]) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let hash = Sha256::new().chain_update(seed).chain_update(run_id.as_str().as_bytes()).finalize();
    let draw = u64::from_be_bytes(hash[..8].try_into().unwrap_or_default());
    (draw as f64) < fraction * (u64::MAX as f64)
}

#[cfg(test)]
mod tests {
    use whetstone_chain::wallet::HotkeyPair;
    use whetstone_tasks::{Digest, GradeId, Verdict};

    use super::*;

    fn statement(validator: &HotkeyPair, status: VerdictStatus) -> VerdictStatement {
        VerdictStatement {
            run_id: RunId::new("run-1"),
            task: Digest::of_bytes(b"task"),
            agent: Digest::of_bytes(b"agent"),
            patch: Digest::of_bytes(b"patch"),
            validator: validator.hotkey().clone(),
            status,
            tests: Vec::new(),
            grader_version: "test".into(),
            graded_at_ms: 1,
        }
    }

    fn subject() -> GradeSubject {
        GradeSubject {
            run_id: RunId::new("run-1"),
            task: Digest::of_bytes(b"task"),
            agent: Digest::of_bytes(b"agent"),
            patch: Digest::of_bytes(b"patch"),
            holder: None,
        }
    }

    fn report(signed: Option<SignedVerdict>, status: VerdictStatus) -> GradeReport {
        GradeReport {
            grade_id: GradeId::new("grade-1"),
            verdict: Verdict {
                status,
                fail_to_pass_passed: 0,
                fail_to_pass_total: 0,
                pass_to_pass_passed: 0,
                pass_to_pass_total: 0,
                tests: Vec::new(),
                notes: String::new(),
            },
            log: String::new(),
            duration: std::time::Duration::ZERO,
            signed,
        }
    }

    #[test]
    fn a_verdict_enters_the_ledger_only_when_it_is_about_this_grade_and_signed_by_the_session() {
        let alice = HotkeyPair::sr25519_from_seed([1; 32]).expect("key");
        let bob = HotkeyPair::sr25519_from_seed([2; 32]).expect("key");
        let good = statement(&alice, VerdictStatus::Resolved);
        let signed = good.sign(&alice).expect("signs");
        assert!(check_verdict(&report(Some(signed.clone()), VerdictStatus::Resolved), &subject(), alice.hotkey()).is_ok());

        assert_eq!(check_verdict(&report(None, VerdictStatus::Resolved), &subject(), alice.hotkey()), Err(Refused::Unsigned));
        assert!(matches!(
            check_verdict(&report(Some(signed.clone()), VerdictStatus::Resolved), &subject(), bob.hotkey()),
            Err(Refused::WrongSigner { .. })
        ));
        assert!(matches!(
            check_verdict(&report(Some(signed.clone()), VerdictStatus::Unresolved), &subject(), alice.hotkey()),
            Err(Refused::WrongStatus { .. })
        ));
        let other_patch = VerdictStatement { patch: Digest::of_bytes(b"another patch"), ..good.clone() }.sign(&alice).expect("signs");
        assert!(matches!(
            check_verdict(&report(Some(other_patch), VerdictStatus::Resolved), &subject(), alice.hotkey()),
            Err(Refused::WrongSubject { field: "patch", .. })
        ));
        let mut tampered = signed;
        let last = tampered.statement.len() - 1;
        tampered.statement[last] ^= 1;
        assert!(matches!(
            check_verdict(&report(Some(tampered), VerdictStatus::Resolved), &subject(), alice.hotkey()),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn disagreement_asks_for_disputes_up_to_the_cap_and_agreement_for_audits_at_the_configured_rate() {
        let (a, b) = (HotkeyPair::sr25519_from_seed([1; 32]).expect("key"), HotkeyPair::sr25519_from_seed([2; 32]).expect("key"));
        let encoded = |key: &HotkeyPair, status| statement(key, status).encode().expect("encodes");
        let seed = [7; 32];
        let config = GradingConfig { replicas: 2, max_disputes: 1, audit_fraction: 0.0 };
        let split = RunGrading {
            slots: vec![(GradePurpose::Replica, false), (GradePurpose::Replica, false)],
            statements: vec![encoded(&a, VerdictStatus::Resolved), encoded(&b, VerdictStatus::Unresolved)],
        };
        let run = RunId::new("run-1");
        assert_eq!(next_grade(&run, &split, &config, &seed), Some(GradePurpose::Dispute));
        let open = RunGrading { slots: vec![(GradePurpose::Replica, false), (GradePurpose::Replica, true)], ..split.clone() };
        assert_eq!(next_grade(&run, &open, &config, &seed), None, "a run with an open slot waits for it");
        let capped = RunGrading { slots: [split.slots.clone(), vec![(GradePurpose::Dispute, false)]].concat(), ..split };
        assert_eq!(next_grade(&run, &capped, &config, &seed), None, "no more disputes than the cap");

        let agreed = RunGrading {
            slots: vec![(GradePurpose::Replica, false), (GradePurpose::Replica, false)],
            statements: vec![encoded(&a, VerdictStatus::Resolved), encoded(&b, VerdictStatus::Resolved)],
        };
        assert_eq!(next_grade(&run, &agreed, &config, &seed), None);
        let always = GradingConfig { audit_fraction: 1.0, ..config };
        assert_eq!(next_grade(&run, &agreed, &always, &seed), Some(GradePurpose::Audit));
        let audited = RunGrading { slots: [agreed.slots.clone(), vec![(GradePurpose::Audit, false)]].concat(), ..agreed };
        assert_eq!(next_grade(&run, &audited, &always, &seed), None, "one audit per run");

        let picked = (0..10_000).filter(|i| picked_for_audit(&RunId::new(format!("run-{i}")), 0.05, &seed)).count();
        assert!((400..600).contains(&picked), "about 5% of runs are audited, got {picked} of 10000");
    }
}
