//! Yuma Consensus epochs: hand-checkable tables, and subtensor's own `test_bonds` sequence
//! (`pallets/subtensor/src/tests/epoch.rs`, values asserted and traced by the chain's
//! I32F32 code) to measure how far our f64 epoch is from the chain's.

use whetstone_chain::yuma::{Epoch, EpochInput, EpochOutput, Hyperparameters, NeuronState};

const EMISSION: u64 = 1_000_000_000;

fn hyperparameters() -> Hyperparameters {
    Hyperparameters { tempo: 1, max_allowed_validators: 8, ..Hyperparameters::subtensor_defaults() }
}

fn validator(stake: u64, weights: &[(u16, u16)]) -> NeuronState {
    NeuronState { stake, validator_permit: true, last_update: 1, weights: weights.to_vec(), ..NeuronState::default() }
}

fn miner() -> NeuronState {
    NeuronState::default()
}

fn epoch(block: u64, neurons: Vec<NeuronState>) -> (EpochInput, EpochOutput) {
    let input = EpochInput { current_block: block, emission: EMISSION, hyperparameters: hyperparameters(), neurons };
    let output = Epoch::run(&input);
    (input, output)
}

fn assert_close(what: &str, got: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (uid, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!((g - e).abs() <= tolerance, "{what}[{uid}]: got {g}, expected {e} (±{tolerance})");
    }
}

/// Per-uid column of an output field.
fn field(output: &EpochOutput, f: impl Fn(&whetstone_chain::yuma::NeuronEpoch) -> f64) -> Vec<f64> {
    output.neurons.iter().map(f).collect()
}

#[test]
fn consensus_cases_by_hand() {
    // (case, neurons, incentive, dividends, validator trust)
    struct Case {
        name: &'static str,
        neurons: Vec<NeuronState>,
        incentive: Vec<f64>,
        dividends: Vec<f64>,
        validator_trust: Vec<f64>,
    }
    let cases = [
        Case {
            name: "one honest validator pays miners by weight",
            neurons: vec![validator(10, &[(1, 16384), (2, 49152)]), miner(), miner()],
            incentive: vec![0.0, 0.25, 0.75],
            dividends: vec![1.0, 0.0, 0.0],
            validator_trust: vec![1.0, 0.0, 0.0],
        },
        Case {
            name: "two agreeing validators share dividends by stake",
            neurons: vec![validator(3, &[(2, 65535), (3, 65535)]), validator(1, &[(2, 65535), (3, 65535)]), miner(), miner()],
            incentive: vec![0.0, 0.0, 0.5, 0.5],
            dividends: vec![0.75, 0.25, 0.0, 0.0],
            validator_trust: vec![1.0, 1.0, 0.0, 0.0],
        },
        Case {
            // 80% of stake backs miner 3; the 20% outlier's weight on miner 4 is above the
            // (zero) consensus and is clipped away, so it earns no trust and no bonds.
            name: "outlier validator is clipped",
            neurons: vec![validator(4, &[(3, 65535)]), validator(4, &[(3, 65535)]), validator(2, &[(4, 65535)]), miner(), miner()],
            incentive: vec![0.0, 0.0, 0.0, 1.0, 0.0],
            dividends: vec![0.5, 0.5, 0.0, 0.0, 0.0],
            validator_trust: vec![1.0, 1.0, 0.0, 0.0, 0.0],
        },
        Case {
            // The outlier splits its weight; consensus keeps the majority's 100% on miner 3
            // and clips the outlier's half on miner 4, so its trust is the half that agreed.
            name: "partially agreeing validator keeps the agreeing part",
            neurons: vec![validator(8, &[(3, 65535)]), validator(2, &[(3, 65535), (4, 65535)]), miner(), miner(), miner()],
            incentive: vec![0.0, 0.0, 0.0, 1.0, 0.0],
            dividends: vec![0.8 / (0.8 + 0.1), 0.1 / (0.8 + 0.1), 0.0, 0.0, 0.0],
            validator_trust: vec![1.0, 0.5, 0.0, 0.0, 0.0],
        },
        Case {
            name: "self-weight and weights without a permit are ignored",
            neurons: vec![
                validator(5, &[(0, 65535), (2, 65535)]),
                NeuronState { validator_permit: false, ..validator(5, &[(3, 65535)]) },
                miner(),
                miner(),
            ],
            incentive: vec![0.0, 0.0, 1.0, 0.0],
            dividends: vec![1.0, 0.0, 0.0, 0.0],
            validator_trust: vec![1.0, 0.0, 0.0, 0.0],
        },
    ];
    for case in cases {
        let (_, out) = epoch(2, case.neurons);
        assert_close(&format!("{}: incentive", case.name), &field(&out, |n| n.incentive), &case.incentive, 1e-9);
        assert_close(&format!("{}: dividends", case.name), &field(&out, |n| n.dividends), &case.dividends, 1e-9);
        assert_close(&format!("{}: validator trust", case.name), &field(&out, |n| n.validator_trust), &case.validator_trust, 1e-9);
        let total: u64 = out.neurons.iter().map(|n| n.server_emission + n.validator_emission).sum();
        assert!(EMISSION - total < 10, "{}: emission adds up to {total}", case.name);
    }
}

#[test]
fn a_late_agreeing_validator_earns_bonds_at_the_ema_rate() {
    // Validator 0 alone for one epoch, then validator 1 (same stake) agrees. With
    // bonds_moving_average 0.9 its bond share of the miner after k epochs is 0.5·(1 − 0.9^k).
    let (input, out) = epoch(2, vec![validator(1, &[(2, 65535)]), NeuronState { weights: vec![], ..validator(1, &[]) }, miner()]);
    let mut neurons = out.carry_into(&input);
    neurons[1].weights = vec![(2, 65535)];
    for (k, block) in (1..=10).zip(3u64..) {
        let (input, out) = epoch(block, neurons);
        let expected = 0.5 * (1.0 - 0.9_f64.powi(k));
        // Bonds are stored as u16 between epochs; each round trip costs up to 1/65535.
        assert!((out.neurons[1].dividends - expected).abs() < 2e-4, "epoch {k}: {} vs {expected}", out.neurons[1].dividends);
        neurons = out.carry_into(&input);
    }
}

/// Subtensor's `test_bonds`: 4 validators with stake 1:2:3:4 weight 4 miners 0.1:0.2:0.3:0.4,
/// then validators 0, 1, 2 one by one set self-weight only, and validator 2 moves all its
/// weight to miner 7 (the chain test's "val3 -> srv4").
/// `(block, weight changes, bond column asserted, chain's stored bonds of validators 0..4)`.
type BondsStep = (u64, Vec<(usize, Vec<(u16, u16)>)>, u16, [u16; 4]);

fn test_bonds_sequence() -> Vec<BondsStep> {
    let all = vec![(4, 16383), (5, 32767), (6, 49149), (7, 65535)];
    vec![
        (1, (0..4).map(|v| (v, all.clone())).collect(), 4, [16383, 32767, 49151, 65535]),
        (2, vec![(0, vec![(0, 65535)])], 4, [14582, 32767, 49151, 65535]),
        (3, vec![(1, vec![(1, 65535)])], 4, [12603, 28321, 49151, 65535]),
        (4, vec![(2, vec![(2, 65535)])], 7, [12602, 28320, 49150, 65535]),
        (5, vec![(2, vec![(7, 65535)])], 7, [10951, 24609, 49150, 65535]),
        (6, vec![], 7, [9559, 21482, 49150, 65535]),
        (7, vec![], 7, [8376, 18824, 49150, 65535]),
    ]
}

fn bond(neuron: &whetstone_chain::yuma::NeuronEpoch, column: u16) -> u16 {
    neuron.bonds.iter().find(|(j, _)| *j == column).map_or(0, |(_, b)| *b)
}

#[test]
fn subtensor_test_bonds_sequence_within_one_unit() {
    let stakes = [1, 2, 3, 4, 0, 0, 0, 0];
    let mut neurons: Vec<NeuronState> = stakes.iter().map(|&stake| NeuronState { stake, ..NeuronState::default() }).collect();
    // The chain's first epoch (block 0, no weights) hands out the permits.
    let (input, out) = epoch(0, neurons);
    neurons = out.carry_into(&input);
    assert_eq!(neurons.iter().map(|n| n.validator_permit).collect::<Vec<_>>(), [true, true, true, true, false, false, false, false]);

    let mut worst = 0u16;
    for (block, changes, column, chain) in test_bonds_sequence() {
        for (uid, weights) in changes {
            neurons[uid].weights = weights;
            neurons[uid].last_update = block;
        }
        let (input, out) = epoch(block, neurons);
        let ours: Vec<u16> = out.neurons[..4].iter().map(|n| bond(n, column)).collect();
        eprintln!("test_bonds chained, block {block}: ours {ours:?}, chain {chain:?}");
        for (v, (o, c)) in ours.iter().zip(chain).enumerate() {
            let diff = o.abs_diff(c);
            worst = worst.max(diff);
            assert!(diff <= 1, "block {block}: validator {v} bond on {column} is {o}, chain stores {c}");
        }
        neurons = out.carry_into(&input);
    }
    eprintln!("test_bonds, 7 chained epochs: largest stored-bond difference from the chain = {worst}/65535");
}

#[test]
fn subtensor_test_bonds_single_epochs_from_chain_state_within_one_unit() {
    // Epochs 4, 6 and 7 of `test_bonds` fed with the bonds the chain had stored (its trace),
    // so only one epoch's arithmetic differs.
    let all = vec![(4, 16383), (5, 32767), (6, 49149), (7, 65535)];
    let row = |b: [u16; 4]| -> Vec<(u16, u16)> { (4..8).zip(b).collect() };
    // (block, validators' weights, validators' stored bonds on miners 4..8, chain's result on 7)
    type SingleEpoch = (u64, [Vec<(u16, u16)>; 4], [[u16; 4]; 4], [u16; 4]);
    let cases: [SingleEpoch; 3] = [
        (
            4,
            [vec![(0, 65535)], vec![(1, 65535)], vec![(2, 65535)], all.clone()],
            [[12603; 4], [28321; 4], [49151; 4], [65535; 4]],
            [12602, 28320, 49150, 65535],
        ),
        (
            6,
            [vec![(0, 65535)], vec![(1, 65535)], vec![(7, 65535)], all.clone()],
            [[12601, 12601, 12601, 10951], [28319, 28319, 28319, 24609], [49149, 49149, 49149, 49150], [65535; 4]],
            [9559, 21482, 49150, 65535],
        ),
        (
            7,
            [vec![(0, 65535)], vec![(1, 65535)], vec![(7, 65535)], all],
            [[12600, 12600, 12600, 9559], [28318, 28318, 28318, 21482], [49148, 49148, 49148, 49150], [65535; 4]],
            [8376, 18824, 49150, 65535],
        ),
    ];
    for (block, weights, bonds, chain) in cases {
        let mut neurons: Vec<NeuronState> = [1, 2, 3, 4, 0, 0, 0, 0]
            .iter()
            .map(|&stake| NeuronState { stake, validator_permit: stake > 0, last_update: 1, ..NeuronState::default() })
            .collect();
        for (neuron, (w, b)) in neurons.iter_mut().zip(weights.iter().zip(bonds)) {
            neuron.weights = w.clone();
            neuron.bonds = row(b);
        }
        let (_, out) = epoch(block, neurons);
        for (v, (result, expected)) in out.neurons.iter().zip(chain).enumerate() {
            let ours = bond(result, 7);
            assert!(ours.abs_diff(expected) <= 1, "block {block}: validator {v} bond {ours}, chain {expected}");
        }
    }
}

#[test]
fn subtensor_test_bonds_first_epoch_emissions() {
    // The chain's trace of the first weighted epoch: E = [49999998, 99999999, 150000000,
    // 200000001, 49998779, 100000610, 149996337, 200004272].
    let all = vec![(4, 16383), (5, 32767), (6, 49149), (7, 65535)];
    let neurons: Vec<NeuronState> = [1, 2, 3, 4, 0, 0, 0, 0]
        .iter()
        .map(|&stake| NeuronState {
            stake,
            validator_permit: stake > 0,
            last_update: u64::from(stake > 0),
            weights: if stake > 0 { all.clone() } else { vec![] },
            ..NeuronState::default()
        })
        .collect();
    let (_, out) = epoch(1, neurons);
    let chain: [u64; 8] = [49_999_998, 99_999_999, 150_000_000, 200_000_001, 49_998_779, 100_000_610, 149_996_337, 200_004_272];
    let mut worst = 0;
    for (uid, n) in out.neurons.iter().enumerate() {
        let ours = n.server_emission + n.validator_emission;
        worst = worst.max(ours.abs_diff(chain[uid]));
        assert!(ours.abs_diff(chain[uid]) <= 5, "uid {uid}: {ours} rao, chain {}", chain[uid]);
    }
    eprintln!("test_bonds, first epoch: largest emission difference from the chain = {worst} rao of {EMISSION}");
    // Incentive follows the u16 weights exactly: 16383 / (16383+32767+49149+65535).
    let expected = 16383.0 / 163_834.0;
    assert!((out.neurons[4].incentive - expected).abs() < 1e-12);
}
