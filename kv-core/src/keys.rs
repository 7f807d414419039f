//! The indexes of the replicated state: hash maps with a fixed hasher of our own, for
//! the key/value map and the duplicate table.
//!
//! Every server looks a key and a client up for every command it applies, so both are
//! hash maps (one hash and one comparison) rather than ordered maps (a dozen comparisons
//! for a thousand keys). They are never iterated where order could show: whatever needs
//! them in order (the snapshot) sorts them first, and the digest is a sum, which has no
//! order.
//!
//! The hasher is fixed arithmetic, without a random seed (the crate takes no OS
//! randomness): the same on every platform and run. It is not built to withstand keys
//! chosen to collide; such keys slow a server down, they cannot change what it answers.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::types::ClientId;

/// The hasher state of every map here: [`KeyHasher`], the same in every process.
pub(crate) type FixedState = BuildHasherDefault<KeyHasher>;
/// The map from key to stored value.
pub(crate) type KeyMap<V> = HashMap<Box<str>, V, FixedState>;
/// The map from client to its row of the duplicate table.
pub(crate) type ClientMap<V> = HashMap<ClientId, V, FixedState>;

/// A multiply-rotate hash over 8-byte words, finished by the SplitMix64 finalizer (the
/// map's buckets use the low bits and its control bytes the high ones: both must mix).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyHasher(u64);

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl KeyHasher {
    fn fold(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(MULTIPLIER).rotate_left(26);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Little-endian words, the last one padded with zeros.
        for chunk in bytes.chunks(8) {
            let word = chunk
                .iter()
                .rev()
                .fold(0, |word, &byte| word << 8 | u64::from(byte));
            self.fold(word);
        }
        // The length, so that texts that differ only by trailing zero bytes differ.
        self.fold(bytes.len() as u64);
    }

    fn write_u8(&mut self, byte: u8) {
        self.fold(u64::from(byte));
    }

    fn write_u64(&mut self, word: u64) {
        self.fold(word);
    }

    fn finish(&self) -> u64 {
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash(key: &str) -> u64 {
        BuildHasherDefault::<KeyHasher>::default().hash_one(key)
    }

    #[test]
    fn the_hash_is_fixed_and_tells_keys_apart() {
        assert_eq!(hash("k1"), hash("k1"));
        let keys = ["", "\0", "\0\0", "k1", "k2", "1k", "abcdefgh", "abcdefgh\0"];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(hash(a), hash(b), "{a:?} {b:?}");
            }
        }
        // Box<str> and &str hash alike (the map is looked up by &str).
        let boxed: Box<str> = "k1".into();
        let mut hasher = KeyHasher::default();
        boxed.hash(&mut hasher);
        assert_eq!(hasher.finish(), hash("k1"));
    }

    #[test]
    fn a_thousand_keys_spread_over_the_buckets() {
        let mut low = [0u32; 64];
        for k in 0..1000 {
            low[(hash(&format!("k{k}")) & 63) as usize] += 1;
        }
        assert!(low.iter().all(|&n| n > 0 && n < 50), "{low:?}");
    }
}
