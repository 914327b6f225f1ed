//! Scores → u16 weights, matching the Bittensor SDK's `convert_weights_and_uids_for_emit`:
//! max-upscale so the largest weight is 65535, quantise with Python's `round` (ties to even),
//! and drop zeros.

pub const U16_MAX: u16 = u16::MAX;

/// Converts `(uid, score)` pairs into `(uids, weights)` ready for `set_weights`. Negative or
/// non-finite scores count as zero; all-zero input gives empty vectors.
pub fn scores_to_u16_weights(scores: &[(u16, f64)]) -> (Vec<u16>, Vec<u16>) {
    let clean = |s: f64| if s.is_finite() && s > 0.0 { s } else { 0.0 };
    let max = scores.iter().map(|(_, s)| clean(*s)).fold(0.0, f64::max);
    if max <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let mut uids = Vec::new();
    let mut weights = Vec::new();
    for (uid, score) in scores {
        let scaled = (clean(*score) / max * f64::from(U16_MAX)).round_ties_even();
        // `scaled` is in [0, 65535] by construction.
        let weight = scaled as u16;
        if weight != 0 {
            uids.push(*uid);
            weights.push(weight);
        }
    }
    (uids, weights)
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
        // 1/131070 * 65535 = 0.5 → Python's round(0.5) == 0, so the uid is dropped.
        let (uids, _) = scores_to_u16_weights(&[(0, 1.0), (1, 1.0 / 131_070.0)]);
        assert_eq!(uids, [0]);
        // 3/131070 * 65535 = 1.5 → 2.
        let (_, weights) = scores_to_u16_weights(&[(0, 1.0), (1, 3.0 / 131_070.0)]);
        assert_eq!(weights, [65535, 2]);
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(scores_to_u16_weights(&[]), (vec![], vec![]));
        assert_eq!(scores_to_u16_weights(&[(4, 0.0), (5, -1.0), (6, f64::NAN)]), (vec![], vec![]));
        assert_eq!(scores_to_u16_weights(&[(9, 1e-9)]), (vec![9], vec![65535]));
    }
}
