//! The hashing behind [`StateDigest`](crate::StateDigest): a hash per (key, value) pair
//! and per duplicate-table row, summed modulo 2^64.
//!
//! A sum does not depend on order, so the digest of a state is the same however it was
//! reached, and one write updates it in O(key + written text): subtract the old pair's
//! hash, add the new one's. A value's hash is a polynomial hash modulo the Mersenne prime
//! 2^61 − 1, which an Append extends over the appended text alone, without rereading the
//! value. Everything here is fixed arithmetic: the same on every platform and run.

/// The modulus of the polynomial value hash, 2^61 − 1 (a prime).
const MODULUS: u64 = (1 << 61) - 1;
/// The base of the polynomial value hash (any fixed number in 2..MODULUS).
const BASE: u64 = 0x0a3c_5e7f_9123_4567 % MODULUS;
/// Domain tags, so that a map pair and a table row never hash alike by construction.
const DOMAIN_PAIR: u64 = 0x6b76_2d70_6169_7221;
const DOMAIN_CLIENT: u64 = 0x6b76_2d63_6c69_656e;

/// The polynomial hash of a value, as it grows by appends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TextHash(u64);

impl TextHash {
    /// The hash of `text`.
    pub(crate) fn of(text: &str) -> TextHash {
        TextHash::default().extended(text)
    }

    /// The hash of the value followed by `suffix`.
    #[must_use]
    pub(crate) fn extended(self, suffix: &str) -> TextHash {
        let hash = suffix.bytes().fold(self.0, |hash, byte| {
            add_mod(mul_mod(hash, BASE), u64::from(byte) + 1)
        });
        TextHash(hash)
    }
}

/// The digest term of one (key, value) pair of the map.
pub(crate) fn pair_hash(key: &str, value: TextHash, value_len: usize) -> u64 {
    let key_part = mix(fnv1a(key.as_bytes()) ^ DOMAIN_PAIR);
    mix(key_part.wrapping_add(value.0) ^ mix(value_len as u64))
}

/// The digest term of one duplicate-table row (client, last applied seq).
pub(crate) fn client_hash(client: u64, seq: u64) -> u64 {
    mix(mix(client ^ DOMAIN_CLIENT).wrapping_add(seq))
}

fn mul_mod(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    // 2^61 ≡ 1 (mod 2^61 − 1): fold the high bits onto the low ones.
    // Both halves are below 2^61, so the sum fits in 62 bits.
    let folded = ((product & u128::from(MODULUS)) + (product >> 61)) as u64;
    reduce(folded)
}

fn add_mod(a: u64, b: u64) -> u64 {
    reduce(a + b)
}

/// `x mod (2^61 − 1)` for `x < 2^62` (two conditional subtractions, no division).
fn reduce(x: u64) -> u64 {
    let x = if x >= MODULUS { x - MODULUS } else { x };
    if x >= MODULUS {
        x - MODULUS
    } else {
        x
    }
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The SplitMix64 finalizer: a bijection on u64 that spreads every input bit.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extending_a_hash_equals_hashing_the_whole_text() {
        let whole = TextHash::of("x 1 0 yx 1 1 y");
        let grown = TextHash::of("x 1 0 y").extended("x 1 1 y");
        assert_eq!(whole, grown);
        assert_eq!(TextHash::of("").extended("ab"), TextHash::of("ab"));
    }

    #[test]
    fn different_texts_hash_differently() {
        assert_ne!(TextHash::of("ab"), TextHash::of("ba"));
        assert_ne!(TextHash::of(""), TextHash::of("\0"));
        assert_ne!(
            pair_hash("a", TextHash::of("b"), 1),
            pair_hash("b", TextHash::of("a"), 1)
        );
        assert_ne!(client_hash(1, 2), client_hash(2, 1));
    }

    #[test]
    fn modular_multiplication_matches_u128_arithmetic() {
        for (a, b) in [
            (MODULUS - 1, MODULUS - 1),
            (12345, 67890),
            (0, 5),
            (1 << 60, 3),
        ] {
            let expected = (u128::from(a) * u128::from(b) % u128::from(MODULUS)) as u64;
            assert_eq!(mul_mod(a, b), expected);
        }
    }
}
