//! What the subnet's current weights earn: one Yuma Consensus epoch ([`crate::yuma`]) over a
//! synced [`MetagraphSnapshot`] (the validators' weight rows as the chain stores them, stakes,
//! permits, last updates, registration blocks and, where the runtime keeps them, bonds), so
//! the leaderboard can show each miner the share of the subnet's incentive the weights on
//! chain give it at the next epoch.
//!
//! This is a projection, not the chain's record: it runs the epoch at the snapshot's block
//! with the stake the metagraph shows (alpha only, see [`crate::yuma`] for what is not
//! modelled), and weights still sealed in timelocked commits are not in it until revealed.

use whetstone_tasks::Hotkey;

use crate::sync::MetagraphSnapshot;
use crate::yuma::{self, Epoch, EpochInput, NeuronState};

/// One uid's share of an epoch, both in [0, 1] and each summing to 1 over the subnet (or 0
/// when nobody earns).
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronIncentive {
    pub uid: u16,
    pub hotkey: Hotkey,
    /// Share of the miners' emission (the chain's `Incentive`).
    pub incentive: f64,
    /// Share of the validators' emission (the chain's `Dividends`).
    pub dividends: f64,
}

/// A Yuma epoch over one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct IncentiveView {
    pub netuid: u16,
    /// The block the snapshot was read at.
    pub block: u64,
    /// Blocks per epoch.
    pub tempo: u16,
    /// Permit holders with a weights row: the validators the epoch listened to.
    pub validators_with_weights: u32,
    /// By uid.
    pub neurons: Vec<NeuronIncentive>,
}

impl IncentiveView {
    /// Runs the epoch; `None` when the snapshot was read without its consensus inputs.
    pub fn of(snapshot: &MetagraphSnapshot) -> Option<Self> {
        let consensus = snapshot.consensus.as_ref()?;
        let row = |rows: &[(u16, Vec<(u16, u16)>)], uid: u16| {
            rows.iter().find(|(owner, _)| *owner == uid).map(|(_, row)| row.clone()).unwrap_or_default()
        };
        let neurons: Vec<NeuronState> = snapshot
            .neurons
            .iter()
            .map(|n| NeuronState {
                stake: n.stake,
                validator_permit: n.validator_permit,
                last_update: n.last_update,
                block_at_registration: consensus.block_at_registration.get(usize::from(n.uid)).copied().unwrap_or(0),
                weights: row(&consensus.weights, n.uid),
                bonds: row(&consensus.bonds, n.uid),
            })
            .collect();
        let input = EpochInput {
            current_block: snapshot.block,
            // Only shares are shown; what the subnet emits per epoch depends on its price.
            emission: 0,
            hyperparameters: yuma::Hyperparameters {
                tempo: snapshot.hyperparameters.tempo,
                activity_cutoff: consensus.activity_cutoff,
                kappa: consensus.kappa,
                bonds_moving_average: consensus.bonds_moving_average,
                bonds_penalty: consensus.bonds_penalty,
                max_allowed_validators: consensus.max_allowed_validators,
                stake_threshold: consensus.stake_threshold,
                owner_uid: consensus.owner_uid,
            },
            neurons,
        };
        let output = Epoch::run(&input);
        let validators_with_weights = consensus.weights.iter().filter(|(_, row)| !row.is_empty()).count().try_into().unwrap_or(u32::MAX);
        Some(Self {
            netuid: snapshot.netuid,
            block: snapshot.block,
            tempo: snapshot.hyperparameters.tempo,
            validators_with_weights,
            neurons: snapshot
                .neurons
                .iter()
                .zip(&output.neurons)
                .map(|(n, epoch)| NeuronIncentive {
                    uid: n.uid,
                    hotkey: n.hotkey.clone(),
                    incentive: epoch.incentive,
                    dividends: epoch.dividends,
                })
                .collect(),
        })
    }

    /// The hotkey's uid and shares, if it is registered.
    pub fn of_hotkey(&self, hotkey: &Hotkey) -> Option<&NeuronIncentive> {
        self.neurons.iter().find(|n| &n.hotkey == hotkey)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::client::{ConsensusRecord, Hyperparameters, NeuronRecord};
    use crate::wallet::dev;

    fn snapshot(weights: Vec<(u16, Vec<(u16, u16)>)>, consensus: bool) -> MetagraphSnapshot {
        let neuron = |uid: u16, hotkey: &str, stake: u64, permit: bool| NeuronRecord {
            uid,
            hotkey: Hotkey::new(hotkey),
            stake,
            validator_permit: permit,
            last_update: if permit { 90 } else { 0 },
        };
        let defaults = yuma::Hyperparameters::subtensor_defaults();
        MetagraphSnapshot {
            netuid: 1,
            block: 100,
            neurons: vec![
                neuron(0, dev::ALICE, 3000, true),
                neuron(1, dev::BOB, 0, false),
                neuron(2, dev::CHARLIE, 0, false),
                neuron(3, dev::DAVE, 1000, true),
            ],
            hyperparameters: Hyperparameters::for_tests(),
            consensus: consensus.then(|| ConsensusRecord {
                block_at_registration: vec![0; 4],
                weights,
                bonds: Vec::new(),
                bonds_stored: false,
                kappa: defaults.kappa,
                activity_cutoff: defaults.activity_cutoff,
                bonds_moving_average: defaults.bonds_moving_average,
                bonds_penalty: defaults.bonds_penalty,
                max_allowed_validators: defaults.max_allowed_validators,
                stake_threshold: 0,
                owner_uid: None,
            }),
            fetched_at: SystemTime::UNIX_EPOCH,
        }
    }

    fn incentive(view: &IncentiveView, hotkey: &str) -> f64 {
        view.of_hotkey(&Hotkey::new(hotkey)).expect("registered").incentive
    }

    #[test]
    fn agreeing_validators_pay_miners_by_their_weights() {
        let view = IncentiveView::of(&snapshot(vec![(0, vec![(1, 65535), (2, 21845)]), (3, vec![(1, 65535), (2, 21845)])], true))
            .expect("consensus inputs");
        assert!((incentive(&view, dev::BOB) - 0.75).abs() < 1e-9);
        assert!((incentive(&view, dev::CHARLIE) - 0.25).abs() < 1e-9);
        assert_eq!(incentive(&view, dev::ALICE), 0.0);
        assert_eq!(view.validators_with_weights, 2);
        let dividends: f64 = view.neurons.iter().map(|n| n.dividends).sum();
        assert!((dividends - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_minority_validator_is_clipped_to_the_stake_weighted_median() {
        // Alice (75% of stake) weights only Bob; Dave (25%) only Charlie: consensus on Charlie
        // is 0, so Dave's weight on him is clipped away and Bob earns everything.
        let view = IncentiveView::of(&snapshot(vec![(0, vec![(1, 65535)]), (3, vec![(2, 65535)])], true)).expect("view");
        assert!((incentive(&view, dev::BOB) - 1.0).abs() < 1e-9);
        assert_eq!(incentive(&view, dev::CHARLIE), 0.0);
    }

    #[test]
    fn without_weights_nobody_earns_incentive_and_without_inputs_there_is_no_view() {
        let view = IncentiveView::of(&snapshot(vec![(0, Vec::new()), (3, Vec::new())], true)).expect("view");
        assert_eq!(view.validators_with_weights, 0);
        assert!(view.neurons.iter().all(|n| n.incentive == 0.0));
        assert!(IncentiveView::of(&snapshot(Vec::new(), false)).is_none());
        assert!(view.of_hotkey(&Hotkey::new(dev::EVE)).is_none());
    }
}
