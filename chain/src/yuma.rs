//! Yuma Consensus: one subnet epoch as subtensor's `epoch` computes it
//! (`pallets/subtensor/src/epoch/run_epoch.rs`, the sparse path, with Yuma3 and liquid alpha
//! off), so devnet and tests can show what a set of weights earns without a node.
//!
//! The steps, in the chain's order: normalise stake (after the stake threshold); mask
//! inactive and permit-less stake; take each validator's u16 weights, drop rows without a
//! permit, self-weights (except the subnet owner's) and weights on uids registered since the
//! validator last set weights, and row-normalise; consensus is the stake-weighted median of
//! each column at `kappa`; weights above consensus are clipped; validator trust is a row's
//! clipped sum; rank is the stake-weighted clipped column sum, trust its ratio to the
//! unclipped one, incentive the normalised rank; bonds are the EMA of stake-weighted (and
//! `bonds_penalty`-clipped) weights, dividends a validator's bond share of incentive; the
//! emission is split half to incentive and half to dividends.
//!
//! # Arithmetic
//!
//! This runs in `f64`; the chain runs in `I32F32` (stake in `I64F64`), truncating after every
//! multiplication and division. Proportions here are exact to ~1e-15 where the chain's carry
//! up to a few units of 2^-32 (≈2.3e-10) per operation, i.e. ≲1e-8 after an epoch's few dozen
//! operations. Quantised to the u16 the chain stores (`floor(x · 65535)`), a value lands on
//! the other side of an integer in rare cases, and because the chain truncates, its stored
//! values tend one unit *low*: a bond column that does not change loses 1/65535 per epoch on
//! chain (12603 → 12602 → 12601…) and stays put here. Measured on subtensor's own
//! `test_bonds` sequence (`tests/integration/yuma.rs`): over seven chained epochs 24 of the
//! 28 stored bonds the chain asserts are equal and 4 are one unit high (49151 where the chain
//! has drifted to 49150); from the chain's stored inputs, 11 of 12 single-epoch bonds are
//! equal and one is a unit high; emissions differ by at most 2 rao of 10^9.
//!
//! Not modelled: Yuma3 (`Yuma3On`), liquid alpha, the commit-reveal column mask (weights of a
//! validator whose pending commit predates a uid's registration), `MaxEpochsPerBlock`
//! deferral, and how the chain turns TAO and alpha stake into a stake weight — stake comes in
//! as the weight already.

/// Subnet hyperparameters the epoch reads, with subtensor's runtime defaults in
/// [`Hyperparameters::subtensor_defaults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hyperparameters {
    /// Blocks per epoch; bonds on uids registered within the last tempo are dropped.
    pub tempo: u16,
    /// Blocks after its last weights update a validator still counts as active.
    pub activity_cutoff: u16,
    /// Consensus majority as a u16 proportion (32767 ≈ 0.5).
    pub kappa: u16,
    /// Bond EMA memory in millionths: 900_000 keeps 90% of old bonds each epoch.
    pub bonds_moving_average: u64,
    /// How far bonds follow clipped rather than raw weights, as a u16 proportion.
    pub bonds_penalty: u16,
    /// Validator permits go to at most this many uids with the most stake.
    pub max_allowed_validators: u16,
    /// Stake weights below this count as zero.
    pub stake_threshold: u64,
    /// The subnet owner's uid keeps its self-weight.
    pub owner_uid: Option<u16>,
}

impl Hyperparameters {
    /// Subtensor's `SubtensorInitial*` values for a new subnet.
    pub fn subtensor_defaults() -> Self {
        Self {
            tempo: 360,
            activity_cutoff: 5000,
            kappa: 32_767,
            bonds_moving_average: 900_000,
            bonds_penalty: u16::MAX,
            max_allowed_validators: 128,
            stake_threshold: 0,
            owner_uid: None,
        }
    }
}

/// One uid's chain state going into the epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeuronState {
    /// Stake weight, in any unit (only proportions matter).
    pub stake: u64,
    pub validator_permit: bool,
    /// Block of this uid's last weights update (`LastUpdate`).
    pub last_update: u64,
    /// Block this uid was last registered at.
    pub block_at_registration: u64,
    /// `(uid, weight)` as stored in `Weights`: u16, row max-upscaled by the chain on set.
    pub weights: Vec<(u16, u16)>,
    /// `(uid, bond)` as stored in `Bonds`: u16, column max-upscaled by the previous epoch.
    pub bonds: Vec<(u16, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochInput {
    pub current_block: u64,
    /// Alpha (in rao) this epoch distributes.
    pub emission: u64,
    pub hyperparameters: Hyperparameters,
    /// Indexed by uid.
    pub neurons: Vec<NeuronState>,
}

/// One uid's epoch result. Proportions are in [0, 1]; [`to_u16`] gives what the chain stores.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronEpoch {
    /// Normalised stake after the threshold.
    pub stake: f64,
    pub active: bool,
    pub rank: f64,
    pub trust: f64,
    pub consensus: f64,
    pub incentive: f64,
    pub dividends: f64,
    pub validator_trust: f64,
    /// Rao earned as a miner (from incentive).
    pub server_emission: u64,
    /// Rao earned as a validator (from dividends).
    pub validator_emission: u64,
    /// The permit for the next epoch (top `max_allowed_validators` by stake).
    pub validator_permit: bool,
    /// The `Bonds` row the chain stores after this epoch.
    pub bonds: Vec<(u16, u16)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EpochOutput {
    /// Indexed by uid.
    pub neurons: Vec<NeuronEpoch>,
}

impl EpochOutput {
    /// Input for the next epoch: the same neurons carrying this epoch's bonds and permits.
    pub fn carry_into(&self, previous: &EpochInput) -> Vec<NeuronState> {
        previous
            .neurons
            .iter()
            .zip(&self.neurons)
            .map(|(state, result)| NeuronState { validator_permit: result.validator_permit, bonds: result.bonds.clone(), ..state.clone() })
            .collect()
    }
}

/// How the chain stores a proportion: `floor(x · 65535)`, saturating.
pub fn to_u16(proportion: f64) -> u16 {
    // `as` saturates and maps NaN to 0, which is what the chain's saturating conversion does.
    (proportion * f64::from(u16::MAX)).floor() as u16
}

type Sparse = Vec<Vec<(u16, f64)>>;

/// The epoch function.
#[derive(Debug, Clone, Copy)]
pub struct Epoch;

impl Epoch {
    pub fn run(input: &EpochInput) -> EpochOutput {
        let hp = &input.hyperparameters;
        let neurons = &input.neurons;
        let n = neurons.len();

        let active: Vec<bool> =
            neurons.iter().map(|s| s.last_update.saturating_add(u64::from(hp.activity_cutoff)) >= input.current_block).collect();

        // Stake, thresholded and normalised.
        let mut stake: Vec<f64> = neurons.iter().map(|s| if s.stake < hp.stake_threshold { 0.0 } else { s.stake as f64 }).collect();
        normalize(&mut stake);
        let new_permits = top_k_nonzero(&stake, usize::from(hp.max_allowed_validators));

        // Only active permit holders' stake counts for consensus.
        let mut active_stake: Vec<f64> = (0..n).map(|i| if active[i] && neurons[i].validator_permit { stake[i] } else { 0.0 }).collect();
        normalize(&mut active_stake);

        // Weights: permit rows only, no self-weight but the owner's, nothing on uids registered
        // since the validator last set weights, then row-normalised.
        let mut weights: Sparse = neurons
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if !s.validator_permit {
                    return Vec::new();
                }
                s.weights
                    .iter()
                    .filter(|&&(j, _)| usize::from(j) < n)
                    .filter(|&&(j, _)| usize::from(j) != i || hp.owner_uid == Some(j))
                    .filter(|&&(j, _)| s.last_update > neurons[usize::from(j)].block_at_registration)
                    .map(|&(j, w)| (j, f64::from(w)))
                    .collect()
            })
            .collect();
        for row in &mut weights {
            let sum: f64 = row.iter().map(|(_, w)| w).sum();
            if sum > 0.0 {
                row.iter_mut().for_each(|(_, w)| *w /= sum);
            }
        }

        let preranks = matmul(&weights, &active_stake, n);
        let kappa = f64::from(hp.kappa) / f64::from(u16::MAX);
        let consensus = weighted_median_columns(&active_stake, &weights, n, kappa);
        let clipped = clip_columns(&weights, &consensus);
        let validator_trust: Vec<f64> = clipped.iter().map(|row| row.iter().map(|(_, w)| w).sum()).collect();

        let mut ranks = matmul(&clipped, &active_stake, n);
        let trust: Vec<f64> = ranks.iter().zip(&preranks).map(|(r, p)| if *p != 0.0 { r / p } else { 0.0 }).collect();
        normalize(&mut ranks);
        let incentive = ranks.clone();

        // Bonds: EMA of stake-weighted weights, each column normalised.
        let penalty = f64::from(hp.bonds_penalty) / f64::from(u16::MAX);
        let weights_for_bonds = interpolate(&weights, &clipped, n, penalty);
        let last_tempo = input.current_block.saturating_sub(u64::from(hp.tempo));
        let mut bonds: Sparse = neurons
            .iter()
            .map(|s| {
                s.bonds
                    .iter()
                    .filter(|&&(j, _)| usize::from(j) < n)
                    // Bonds on uids registered within the last tempo belong to their predecessor.
                    .filter(|&&(j, _)| last_tempo > neurons[usize::from(j)].block_at_registration)
                    .map(|&(j, b)| (j, f64::from(b)))
                    .collect()
            })
            .collect();
        col_normalize(&mut bonds, n);
        let mut bonds_delta: Sparse =
            weights_for_bonds.iter().zip(&active_stake).map(|(row, s)| row.iter().map(|&(j, w)| (j, w * s)).collect()).collect();
        col_normalize(&mut bonds_delta, n);
        let alpha = 1.0 - hp.bonds_moving_average as f64 / 1_000_000.0;
        let mut ema_bonds = ema(&bonds_delta, &bonds, alpha, n);
        col_normalize(&mut ema_bonds, n);

        let mut dividends: Vec<f64> = ema_bonds.iter().map(|row| row.iter().map(|&(j, b)| b * incentive[usize::from(j)]).sum()).collect();
        normalize(&mut dividends);
        col_max_upscale(&mut ema_bonds, n);

        // Emission: incentive and dividends share it; with neither, validators get it by stake.
        let emission_sum: f64 = incentive.iter().zip(&dividends).map(|(i, d)| i + d).sum();
        let (server_share, validator_share): (Vec<f64>, Vec<f64>) = if emission_sum == 0.0 {
            let by_stake = if active_stake.iter().sum::<f64>() == 0.0 { &stake } else { &active_stake };
            (incentive.clone(), by_stake.clone())
        } else {
            (incentive.iter().map(|i| i / emission_sum).collect(), dividends.iter().map(|d| d / emission_sum).collect())
        };
        let rao = |share: f64| (share * input.emission as f64).floor() as u64;

        let neurons_out = (0..n)
            .map(|i| NeuronEpoch {
                stake: stake[i],
                active: active[i],
                rank: ranks[i],
                trust: trust[i],
                consensus: consensus[i],
                incentive: incentive[i],
                dividends: dividends[i],
                validator_trust: validator_trust[i],
                server_emission: rao(server_share[i]),
                validator_emission: rao(validator_share[i]),
                validator_permit: new_permits[i],
                // Permit holders get this epoch's bonds, uids losing their permit lose their
                // bonds, and the rest keep what storage had.
                bonds: if new_permits[i] {
                    ema_bonds[i].iter().map(|&(j, b)| (j, to_u16(b))).collect()
                } else if neurons[i].validator_permit {
                    Vec::new()
                } else {
                    neurons[i].bonds.clone()
                },
            })
            .collect();
        EpochOutput { neurons: neurons_out }
    }
}

/// Sum to one, unless all zero.
fn normalize(values: &mut [f64]) {
    let sum: f64 = values.iter().sum();
    if sum != 0.0 {
        values.iter_mut().for_each(|v| *v /= sum);
    }
}

/// The `k` largest non-zero entries (ties broken towards higher index, as the chain's stable
/// ascending sort drops the first of equal values).
fn top_k_nonzero(values: &[f64], k: usize) -> Vec<bool> {
    let mut keep: Vec<bool> = values.iter().map(|&v| v != 0.0).collect();
    if values.len() < k {
        return keep;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    for &i in order.iter().take(values.len() - k) {
        keep[i] = false;
    }
    keep
}

/// `result_j = Σ_i vector_i · matrix_ij`.
fn matmul(matrix: &Sparse, vector: &[f64], columns: usize) -> Vec<f64> {
    let mut out = vec![0.0; columns];
    for (row, v) in matrix.iter().zip(vector) {
        for &(j, w) in row {
            out[usize::from(j)] += v * w;
        }
    }
    out
}

/// Each column's stake-weighted median over validators with stake; a validator that set no
/// weight on a column counts as scoring it 0.
fn weighted_median_columns(stake: &[f64], weights: &Sparse, columns: usize, kappa: f64) -> Vec<f64> {
    let mut use_stake: Vec<f64> = stake.iter().copied().filter(|&s| s > 0.0).collect();
    normalize(&mut use_stake);
    let stake_sum: f64 = use_stake.iter().sum();
    let minority = stake_sum - kappa;
    let mut scores = vec![vec![0.0; use_stake.len()]; columns];
    for (k, row) in stake.iter().zip(weights).filter(|(s, _)| **s > 0.0).map(|(_, row)| row).enumerate() {
        for &(j, w) in row {
            scores[usize::from(j)][k] = w;
        }
    }
    let all: Vec<usize> = (0..use_stake.len()).collect();
    scores.iter().map(|column| weighted_median(&use_stake, column, &all, minority, 0.0, stake_sum)).collect()
}

/// Subtensor's deterministic mid-pivot search for the score at which the stake below it
/// first exceeds `minority` (`1 - kappa`); `lo`/`hi` bound the stake integral of `partition`.
fn weighted_median(stake: &[f64], score: &[f64], partition: &[usize], minority: f64, lo: f64, hi: f64) -> f64 {
    match partition {
        [] => return 0.0,
        [only] => return score[*only],
        _ => {}
    }
    let pivot = score[partition[partition.len() / 2]];
    let (mut lo_stake, mut hi_stake) = (0.0, 0.0);
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    for &i in partition {
        if score[i] < pivot {
            lo_stake += stake[i];
            lower.push(i);
        } else if score[i] > pivot {
            hi_stake += stake[i];
            upper.push(i);
        }
    }
    if lo + lo_stake <= minority && minority < hi - hi_stake {
        pivot
    } else if minority < lo + lo_stake && !lower.is_empty() {
        weighted_median(stake, score, &lower, minority, lo, lo + lo_stake)
    } else if hi - hi_stake <= minority && !upper.is_empty() {
        weighted_median(stake, score, &upper, minority, hi - hi_stake, hi)
    } else {
        pivot
    }
}

/// Weights above their column's consensus drop to it (and vanish where consensus is 0).
fn clip_columns(weights: &Sparse, threshold: &[f64]) -> Sparse {
    weights
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|&(j, w)| {
                    let t = threshold[usize::from(j)];
                    if t < w { (t > 0.0).then_some((j, t)) } else { Some((j, w)) }
                })
                .collect()
        })
        .collect()
}

/// `a + ratio · (b - a)`, keeping positive entries.
fn interpolate(a: &Sparse, b: &Sparse, columns: usize, ratio: f64) -> Sparse {
    if ratio == 0.0 {
        return a.clone();
    }
    if ratio == 1.0 {
        return b.clone();
    }
    a.iter()
        .zip(b)
        .map(|(row_a, row_b)| {
            let (dense_a, dense_b) = (densify(row_a, columns), densify(row_b, columns));
            (0..columns)
                .filter_map(|j| {
                    let v = dense_a[j] + ratio * (dense_b[j] - dense_a[j]);
                    (v > 0.0).then_some((column_id(j), v))
                })
                .collect()
        })
        .collect()
}

/// `alpha · new + (1 - alpha) · old`, keeping positive entries.
fn ema(new: &Sparse, old: &Sparse, alpha: f64, columns: usize) -> Sparse {
    new.iter()
        .zip(old)
        .map(|(row_new, row_old)| {
            let mut dense = vec![0.0; columns];
            row_new.iter().for_each(|&(j, v)| dense[usize::from(j)] += alpha * v);
            row_old.iter().for_each(|&(j, v)| dense[usize::from(j)] += (1.0 - alpha) * v);
            dense.iter().enumerate().filter(|(_, v)| **v > 0.0).map(|(j, v)| (column_id(j), *v)).collect()
        })
        .collect()
}

fn col_normalize(matrix: &mut Sparse, columns: usize) {
    let mut sums = vec![0.0; columns];
    matrix.iter().flatten().for_each(|&(j, v)| sums[usize::from(j)] += v);
    matrix.iter_mut().flatten().filter(|(j, _)| sums[usize::from(*j)] != 0.0).for_each(|(j, v)| *v /= sums[usize::from(*j)]);
}

fn col_max_upscale(matrix: &mut Sparse, columns: usize) {
    let mut maxes = vec![0.0_f64; columns];
    matrix.iter().flatten().for_each(|&(j, v)| maxes[usize::from(j)] = maxes[usize::from(j)].max(v));
    matrix.iter_mut().flatten().filter(|(j, _)| maxes[usize::from(*j)] != 0.0).for_each(|(j, v)| *v /= maxes[usize::from(*j)]);
}

fn densify(row: &[(u16, f64)], columns: usize) -> Vec<f64> {
    let mut dense = vec![0.0; columns];
    row.iter().for_each(|&(j, v)| dense[usize::from(j)] = v);
    dense
}

/// Column indices come from u16 uids, so they fit back.
fn column_id(j: usize) -> u16 {
    u16::try_from(j).expect("columns are u16 uids")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp() -> Hyperparameters {
        Hyperparameters { tempo: 1, ..Hyperparameters::subtensor_defaults() }
    }

    fn validator(stake: u64, weights: &[(u16, u16)]) -> NeuronState {
        NeuronState { stake, validator_permit: true, last_update: 10, weights: weights.to_vec(), ..NeuronState::default() }
    }

    fn miner() -> NeuronState {
        NeuronState::default()
    }

    fn run(neurons: Vec<NeuronState>) -> EpochOutput {
        Epoch::run(&EpochInput { current_block: 20, emission: 1_000_000_000, hyperparameters: hp(), neurons })
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn weighted_median_picks_the_score_where_minority_stake_is_passed() {
        // (stakes, scores, kappa) → median
        let cases: &[(&[f64], &[f64], f64, f64)] = &[
            (&[1.0], &[0.3], 0.5, 0.3),
            (&[0.5, 0.5], &[0.2, 0.8], 0.5, 0.8),
            (&[0.6, 0.4], &[0.2, 0.8], 0.5, 0.2),
            (&[0.4, 0.6], &[0.2, 0.8], 0.5, 0.8),
            (&[0.1, 0.2, 0.3, 0.4], &[0.0, 0.0, 1.0, 0.4], 0.5, 0.4),
            // 70% of stake scores 0.5 or more.
            (&[0.3, 0.3, 0.4], &[0.1, 0.5, 0.9], 0.7, 0.5),
            (&[0.3, 0.3, 0.4], &[0.1, 0.5, 0.9], 0.3, 0.9),
        ];
        for &(stake, score, kappa, expected) in cases {
            let all: Vec<usize> = (0..stake.len()).collect();
            let got = weighted_median(stake, score, &all, 1.0 - kappa, 0.0, 1.0);
            assert!(close(got, expected), "stake {stake:?} score {score:?} kappa {kappa}: {got} != {expected}");
        }
    }

    #[test]
    fn top_k_keeps_the_largest_nonzero() {
        assert_eq!(top_k_nonzero(&[0.1, 0.0, 0.5, 0.4], 2), [false, false, true, true]);
        assert_eq!(top_k_nonzero(&[0.1, 0.0, 0.5], 5), [true, false, true]);
        // Ties: the stable ascending sort drops the lower uid first.
        assert_eq!(top_k_nonzero(&[0.5, 0.5, 0.5], 2), [false, true, true]);
    }

    #[test]
    fn stored_proportions_truncate() {
        assert_eq!(to_u16(1.0), 65535);
        assert_eq!(to_u16(0.5), 32767);
        assert_eq!(to_u16(0.9999999), 65534);
        assert_eq!(to_u16(-1.0), 0);
        assert_eq!(to_u16(f64::NAN), 0);
    }

    #[test]
    fn one_honest_validator_pays_miners_by_weight() {
        // uid 0 validates with all stake; miners 1 and 2 get 1:3.
        let out = run(vec![validator(100, &[(1, 16384), (2, 49152)]), miner(), miner()]);
        let [v, m1, m2] = &out.neurons[..] else { unreachable!() };
        assert!(close(m1.incentive, 0.25) && close(m2.incentive, 0.75));
        assert!(close(m1.consensus, 0.25) && close(m2.consensus, 0.75));
        assert!(close(m1.trust, 1.0) && close(v.validator_trust, 1.0));
        assert!(close(v.dividends, 1.0));
        assert_eq!((m1.server_emission, m2.server_emission, v.validator_emission), (125_000_000, 375_000_000, 500_000_000));
        assert_eq!(v.bonds, vec![(1, 65535), (2, 65535)]);
        assert!(v.validator_permit && !m1.validator_permit);
    }

    #[test]
    fn self_weights_are_ignored() {
        let out = run(vec![validator(100, &[(0, 65535), (1, 65535)]), miner()]);
        assert!(close(out.neurons[1].incentive, 1.0));
        assert!(close(out.neurons[0].incentive, 0.0));
    }

    #[test]
    fn without_weights_validators_are_paid_by_stake() {
        let out = run(vec![validator(300, &[]), validator(100, &[]), miner()]);
        let emissions: Vec<u64> = out.neurons.iter().map(|n| n.validator_emission + n.server_emission).collect();
        assert_eq!(emissions, [750_000_000, 250_000_000, 0]);
    }
}
