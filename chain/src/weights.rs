//! Weights exactly as the Bittensor SDK 11 prepares them for `set_weights`
//! (`bittensor.intents.weights`): [`clip_to_max_weight`] to the subnet's `max_weight_limit`,
//! [`normalize`] (max-upscale so the largest weight is 65535, quantise with Python's `round`,
//! ties to even, drop zeros), and [`conform`], the SetWeights intent's rules: the clip applies
//! only below the u16 maximum, at least `min_allowed_weights` must survive quantisation, and a
//! validator weighting only itself is exempt from both.
//!
//! Golden vectors made with the real SDK (`tools/sdk_vectors/weights_vectors.py`) pin every
//! float, bit for bit: `chain/testdata/weights_vectors*.json`, checked in
//! `chain/tests/integration/weights.rs`.
//!
//! One thing is not the SDK's to decide: Python's `sum()` of floats is a plain left fold up to
//! CPython 3.11 and Neumaier-compensated from 3.12, so the SDK itself can differ in the last
//! place between interpreters. [`Summation`] names both; the default is the current one.

pub const U16_MAX: u16 = u16::MAX;

/// How Python adds a list of floats with `sum()`, which the SDK's clipping relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Summation {
    /// CPython 3.12 and later: Neumaier-compensated.
    #[default]
    Compensated,
    /// CPython 3.11 and earlier: a plain left-to-right fold.
    Naive,
}

impl Summation {
    /// `sum(values)` as that CPython computes it.
    pub fn sum(self, values: &[f64]) -> f64 {
        match self {
            Self::Naive => values.iter().fold(0.0, |total, x| total + x),
            Self::Compensated => {
                let mut total = 0.0_f64;
                let mut compensation = 0.0_f64;
                for &x in values {
                    let next = total + x;
                    compensation += if total.abs() >= x.abs() { (total - next) + x } else { (x - next) + total };
                    total = next;
                }
                // CPython skips a zero or non-finite compensation, which keeps the sign of a
                // negative zero and cannot turn an overflowed sum into NaN.
                if compensation != 0.0 && compensation.is_finite() { total + compensation } else { total }
            }
        }
    }
}

/// Why the SDK would refuse these weights. Messages follow the SDK's, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightsError {
    #[error("uids and weights must be equal length: {uids} vs {weights}")]
    LengthMismatch { uids: usize, weights: usize },
    #[error("weights must be finite and non-negative")]
    NotFiniteOrNegative,
    #[error("all weights are zero; nothing to set")]
    AllZero,
    #[error("duplicate uid {0} in weights; each uid may appear once")]
    DuplicateUid(u16),
    #[error("the subnet requires at least {required} weights; only {nonzero} are nonzero after normalization")]
    TooFewWeights { required: u16, nonzero: usize },
}

/// The SDK's `normalize`: max-upscale and quantise to u16, dropping zeros, keeping the input
/// order. All-zero (or empty) input gives two empty vectors.
pub fn normalize(uids: &[u16], weights: &[f64]) -> Result<(Vec<u16>, Vec<u16>), WeightsError> {
    if uids.len() != weights.len() {
        return Err(WeightsError::LengthMismatch { uids: uids.len(), weights: weights.len() });
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(WeightsError::NotFiniteOrNegative);
    }
    let top = weights.iter().copied().fold(0.0, f64::max);
    if top == 0.0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut out_uids = Vec::new();
    let mut out_weights = Vec::new();
    for (uid, weight) in uids.iter().zip(weights) {
        // Python's round() on a float is round-half-even on the exact value.
        let scaled = ((weight / top) * f64::from(U16_MAX)).round_ties_even();
        // `scaled` is in [0, 65535]: weight <= top, and both are finite.
        let value = scaled as u16;
        if value != 0 {
            out_uids.push(*uid);
            out_weights.push(value);
        }
    }
    Ok((out_uids, out_weights))
}

/// The SDK's `clip_to_max_weight`: normalise to sum 1 with no element above `limit`,
/// redistributing the clipped mass. A limit no distribution can meet (`len * limit <= 1`)
/// gives the uniform distribution. Like the SDK, it does not check its input: NaN in, NaN out
/// ([`conform`] refuses such weights before clipping).
pub fn clip_to_max_weight(weights: &[f64], limit: f64, summation: Summation) -> Result<Vec<f64>, WeightsError> {
    let n = weights.len();
    let total = summation.sum(weights);
    // A NaN total passes this check in Python too; its NaNs then flow through to the result.
    if n == 0 || total <= 0.0 {
        return Err(WeightsError::AllZero);
    }
    let n_float = n as f64;
    if n_float * limit <= 1.0 {
        return Ok(vec![1.0 / n_float; n]);
    }

    let mut estimation: Vec<f64> = weights.iter().map(|w| w / total).collect();
    estimation.sort_by(f64::total_cmp);
    if estimation[n - 1] <= limit {
        return Ok(weights.iter().map(|w| w / total).collect());
    }

    const EPSILON: f64 = 1e-7;
    // itertools.accumulate: a plain running sum from the first element, never compensated.
    let mut cumsum: Vec<f64> = Vec::with_capacity(n);
    for (i, e) in estimation.iter().enumerate() {
        cumsum.push(if i == 0 { *e } else { cumsum[i - 1] + e });
    }
    let n_values = estimation.iter().enumerate().filter(|(i, e)| **e / (((n - i - 1) as f64) * **e + cumsum[*i] + EPSILON) < limit).count();
    // Python's cumsum[n_values - 1] wraps to the last element when n_values is 0.
    let cumsum_at = if n_values == 0 { cumsum[n - 1] } else { cumsum[n_values - 1] };
    let cutoff_scale = (limit * cumsum_at - EPSILON) / (1.0 - limit * ((n - n_values) as f64));
    let cutoff = cutoff_scale * total;

    // Python's min(w, cutoff) keeps w unless cutoff is strictly smaller.
    let clipped: Vec<f64> = weights.iter().map(|&w| if cutoff < w { cutoff } else { w }).collect();
    let clipped_total = summation.sum(&clipped);
    Ok(clipped.iter().map(|w| w / clipped_total).collect())
}

/// What the SetWeights intent reads from the chain before conforming weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightRules {
    /// The submitting validator's own uid: a vector of only this uid is a self-weight.
    pub own_uid: u16,
    /// `MinAllowedWeights`: how many nonzero weights a submission needs.
    pub min_allowed_weights: u16,
    /// `MaxWeightsLimit` as u16 (65535 = no limit): the largest share one uid may get.
    pub max_weight_limit: u16,
}

/// The SetWeights intent's `_conform` for float weights: refuse duplicate uids, clip to
/// `max_weight_limit` (unless it is 65535 or this is a self-weight), normalise, and require
/// `min_allowed_weights` survivors (again unless a self-weight).
///
/// Negative or non-finite weights are refused up front with the error `normalize` gives. The
/// SDK reaches that error only after clipping, and a contrived negative vector could come out
/// of its clip non-negative; Whetstone's scores are never negative, so nothing is lost.
pub fn conform(pairs: &[(u16, f64)], rules: &WeightRules, summation: Summation) -> Result<(Vec<u16>, Vec<u16>), WeightsError> {
    let mut seen = std::collections::HashSet::new();
    if let Some((uid, _)) = pairs.iter().find(|(uid, _)| !seen.insert(*uid)) {
        return Err(WeightsError::DuplicateUid(*uid));
    }
    let uids: Vec<u16> = pairs.iter().map(|(uid, _)| *uid).collect();
    let mut weights: Vec<f64> = pairs.iter().map(|(_, weight)| *weight).collect();
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(WeightsError::NotFiniteOrNegative);
    }
    let is_self_weight = uids == [rules.own_uid];
    if !is_self_weight && rules.max_weight_limit < U16_MAX {
        let limit = f64::from(rules.max_weight_limit) / f64::from(U16_MAX);
        weights = clip_to_max_weight(&weights, limit, summation)?;
    }
    let (uids, values) = normalize(&uids, &weights)?;
    if uids.is_empty() {
        return Err(WeightsError::AllZero);
    }
    if !is_self_weight && uids.len() < usize::from(rules.min_allowed_weights) {
        return Err(WeightsError::TooFewWeights { required: rules.min_allowed_weights, nonzero: uids.len() });
    }
    Ok((uids, values))
}

/// Scores → `(uids, weights)` for `set_weights`, as the SDK's `normalize` quantises them.
/// Negative or non-finite scores count as zero (the SDK would refuse the whole vector; a
/// scoring bug should cost that uid its weight, not every miner theirs). All-zero input gives
/// empty vectors.
pub fn scores_to_u16_weights(scores: &[(u16, f64)]) -> (Vec<u16>, Vec<u16>) {
    let uids: Vec<u16> = scores.iter().map(|(uid, _)| *uid).collect();
    let weights: Vec<f64> = scores.iter().map(|(_, s)| if s.is_finite() && *s > 0.0 { *s } else { 0.0 }).collect();
    // Equal lengths and clean weights: normalize cannot fail.
    normalize(&uids, &weights).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_upscale_and_drop_zeros() {
        let (uids, weights) = scores_to_u16_weights(&[(0, 0.5), (1, 0.0), (2, 0.25), (3, 1.0)]);
        assert_eq!(uids, [0, 2, 3]);
        assert_eq!(weights, [32768, 16384, 65535]);
    }

    #[test]
    fn ties_round_to_even_as_python_does() {
        // 0.5 / 65535 * 65535 is exactly 0.5 → Python's round gives 0, so the uid is dropped;
        // 1.5 → 2, 2.5 → 2.
        let (uids, weights) = normalize(&[0, 1, 2, 3], &[1.0, 0.5 / 65535.0, 1.5 / 65535.0, 2.5 / 65535.0]).unwrap_or_default();
        assert_eq!(uids, [0, 2, 3]);
        assert_eq!(weights, [65535, 2, 2]);
    }

    #[test]
    fn degenerate_scores() {
        assert_eq!(scores_to_u16_weights(&[]), (vec![], vec![]));
        assert_eq!(scores_to_u16_weights(&[(4, 0.0), (5, -1.0), (6, f64::NAN)]), (vec![], vec![]));
        assert_eq!(scores_to_u16_weights(&[(9, 1e-9)]), (vec![9], vec![65535]));
    }

    #[test]
    fn normalize_refuses_what_the_sdk_refuses() {
        assert_eq!(normalize(&[0, 1], &[1.0]), Err(WeightsError::LengthMismatch { uids: 2, weights: 1 }));
        assert_eq!(normalize(&[0], &[-1.0]), Err(WeightsError::NotFiniteOrNegative));
        assert_eq!(normalize(&[0], &[f64::INFINITY]), Err(WeightsError::NotFiniteOrNegative));
    }

    #[test]
    fn python_sum_variants_differ_only_where_python_does() {
        // 1e16 + 1 + 1 loses both ones in a plain fold; Neumaier keeps them.
        let values = [1e16, 1.0, 1.0];
        assert_eq!(Summation::Naive.sum(&values), 1e16);
        assert_eq!(Summation::Compensated.sum(&values), 1e16 + 2.0);
        assert!(Summation::Compensated.sum(&[-0.0]).is_sign_positive(), "python: sum([-0.0]) == 0.0");
        assert_eq!(Summation::Compensated.sum(&[f64::MAX, f64::MAX, -f64::MAX]), f64::INFINITY);
    }

    #[test]
    fn conform_exempts_a_lone_self_weight() {
        let rules = WeightRules { own_uid: 7, min_allowed_weights: 8, max_weight_limit: 1000 };
        assert_eq!(conform(&[(7, 1.0)], &rules, Summation::default()), Ok((vec![7], vec![65535])));
        assert_eq!(conform(&[(3, 1.0)], &rules, Summation::default()), Err(WeightsError::TooFewWeights { required: 8, nonzero: 1 }));
        assert_eq!(conform(&[(3, 1.0), (3, 2.0)], &rules, Summation::default()), Err(WeightsError::DuplicateUid(3)));
    }
}
