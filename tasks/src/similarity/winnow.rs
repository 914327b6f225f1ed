//! k-gram hashing and winnowing (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms
//! for document fingerprinting", SIGMOD 2003 — the algorithm behind MOSS).
//!
//! Every run of `k` consecutive tokens is hashed; of each window of `w` consecutive k-gram
//! hashes the smallest is kept (the rightmost on a tie, and a hash is kept once while it stays
//! the window's minimum). Two guarantees follow: a shared run of at least `w + k - 1` tokens
//! always leaves at least one shared fingerprint, and a shared run shorter than `k` tokens
//! never does (that is the noise floor: `a = b(c)` appears in every program).

/// The polynomial base of the rolling k-gram hash (an odd 64-bit constant).
const BASE: u64 = 0x100_0000_01b3;

/// splitmix64's finaliser: the rolling hash's low bits depend mostly on the last tokens, and
/// the window minimum must not favour any token.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The hash of every k-gram of `tokens`, in order (none when there are fewer than `k`).
pub(crate) fn kgram_hashes(tokens: &[u64], k: usize) -> Vec<u64> {
    if k == 0 || tokens.len() < k {
        return Vec::new();
    }
    // BASE^(k-1): what the token leaving the window was multiplied by.
    let top = (1..k).fold(1u64, |power, _| power.wrapping_mul(BASE));
    let mut hash = tokens[..k].iter().fold(0u64, |hash, &token| hash.wrapping_mul(BASE).wrapping_add(token));
    let mut hashes = Vec::with_capacity(tokens.len() - k + 1);
    hashes.push(mix(hash));
    for i in k..tokens.len() {
        hash = hash.wrapping_sub(tokens[i - k].wrapping_mul(top)).wrapping_mul(BASE).wrapping_add(tokens[i]);
        hashes.push(mix(hash));
    }
    hashes
}

/// Robust winnowing over `hashes` with windows of `w`: the selected fingerprints, in order,
/// a position selected by consecutive windows kept once. Fewer hashes than one window give
/// that one window's minimum.
pub(crate) fn winnow(hashes: &[u64], w: usize) -> Vec<u64> {
    let w = w.max(1);
    let mut selected = Vec::new();
    if hashes.is_empty() {
        return selected;
    }
    let windows = hashes.len().saturating_sub(w) + 1;
    let mut last: Option<usize> = None;
    for start in 0..windows {
        let window = &hashes[start..(start + w).min(hashes.len())];
        // Rightmost minimum: `min_by_key` keeps the first, so scan from the right.
        let offset = window.len() - 1 - window.iter().rev().enumerate().min_by_key(|(_, h)| **h).map_or(0, |(i, _)| i);
        let position = start + offset;
        if last != Some(position) {
            selected.push(hashes[position]);
            last = Some(position);
        }
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(seed: u64, n: usize) -> Vec<u64> {
        (0..n as u64).map(|i| mix(seed.wrapping_mul(1_000_003).wrapping_add(i))).collect()
    }

    #[test]
    fn rolling_hash_equals_hashing_each_kgram_afresh() {
        let stream = tokens(1, 50);
        let k = 7;
        let direct: Vec<u64> =
            stream.windows(k).map(|gram| mix(gram.iter().fold(0u64, |h, &t| h.wrapping_mul(BASE).wrapping_add(t)))).collect();
        assert_eq!(kgram_hashes(&stream, k), direct);
        assert!(kgram_hashes(&stream[..6], k).is_empty());
    }

    #[test]
    fn a_shared_run_of_w_plus_k_minus_1_tokens_always_leaves_a_shared_fingerprint() {
        let (k, w) = (5, 4);
        for seed in 0..200 {
            let shared = tokens(10_000 + seed, w + k - 1);
            let a: Vec<u64> = tokens(seed, 30).into_iter().chain(shared.iter().copied()).chain(tokens(seed + 500, 20)).collect();
            let b: Vec<u64> = tokens(seed + 900, 7).into_iter().chain(shared.iter().copied()).chain(tokens(seed + 1300, 40)).collect();
            let fa = winnow(&kgram_hashes(&a, k), w);
            let fb = winnow(&kgram_hashes(&b, k), w);
            assert!(fa.iter().any(|h| fb.contains(h)), "seed {seed}: the shared run left no common fingerprint");
        }
    }

    #[test]
    fn winnowing_keeps_the_rightmost_minimum_once_per_run_of_windows() {
        assert_eq!(winnow(&[5, 3, 3, 9, 8, 1, 7], 3), vec![3, 1]);
        assert_eq!(winnow(&[1, 6, 5, 4, 2], 2), vec![1, 5, 4, 2]);
        assert_eq!(winnow(&[4, 2], 8), vec![2]);
        assert!(winnow(&[], 4).is_empty());
        // About 2 / (w + 1) of the hashes are selected on random input.
        let hashes = kgram_hashes(&tokens(3, 10_000), 5);
        let density = winnow(&hashes, 8).len() as f64 / hashes.len() as f64;
        assert!((0.18..0.27).contains(&density), "density {density}");
    }
}
