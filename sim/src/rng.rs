//! Labelled random streams derived from one seed, so that adding a node or a draw in one
//! place never shifts the draws of another.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic random stream.
#[derive(Clone, Debug)]
pub struct Stream(ChaCha8Rng);

/// A stable 64-bit FNV-1a hash of a label (the same on every machine and Rust version).
pub fn label_hash(label: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl Stream {
    /// The stream named `label` under `seed`.
    pub fn new(seed: u64, label: &str) -> Stream {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(label_hash(label));
        Stream(rng)
    }

    /// A fresh 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A value uniform in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Lemire's multiply-shift: no modulo bias worth speaking of for our bounds.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A value uniform in `low..=high`.
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// An index uniform in `0..len`.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "net");
                move |_| s.next_u64()
            })
            .collect();
        let a2: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "net");
                move |_| s.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "node-1");
                move |_| s.next_u64()
            })
            .collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
    }

    #[test]
    fn below_stays_in_range() {
        let mut s = Stream::new(1, "x");
        assert!((0..1000).all(|_| s.below(27) < 27));
        assert!((0..1000).all(|_| (5..=14).contains(&s.range_inclusive(5, 14))));
    }
}
