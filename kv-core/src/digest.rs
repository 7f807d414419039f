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
///
/// The hash of bytes `b_0 .. b_{n-1}` grown from `h` is
/// `h·B^n + Σ (b_i + 1)·B^(n−1−i) mod 2^61 − 1`. It is computed [`BLOCK`] bytes at a time:
/// the terms of a block are looked up in [`TERMS`] (no multiplication per byte), summed
/// eight at a time in 64 bits and then in 128 bits, so a block costs one reduction
/// instead of one per byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TextHash(u64);

/// Bytes hashed per reduction. Terms below 2^61 each (at most 2^66 for a block) and
/// `h·B^BLOCK` below 2^122 sum to less than 2^123: no overflow of u128.
const BLOCK: usize = 32;
/// Terms summed in a u64 before they are added to the u128 sum: 8 · (2^61 − 1) < 2^64.
const GROUP: usize = 8;
/// `POWERS[k] = BASE^k mod MODULUS`, for `k` in `0..=BLOCK`.
const POWERS: [u64; BLOCK + 1] = powers();
/// `TERMS[b][j] = (b + 1)·B^(BLOCK−1−j) mod 2^61 − 1`: the term of byte `b` at position
/// `j` of a full block (64 KiB, computed at compile time). Byte `j` of a shorter block of
/// `k` bytes takes the power `k−1−j`, the term at position `j + BLOCK − k`.
static TERMS: [[u64; BLOCK]; 256] = terms();

impl TextHash {
    /// The hash of `text`.
    pub(crate) fn of(text: &str) -> TextHash {
        TextHash::default().extended(text)
    }

    /// The hash of the value followed by `suffix`.
    #[must_use]
    pub(crate) fn extended(self, suffix: &str) -> TextHash {
        let blocks = suffix.as_bytes().chunks_exact(BLOCK);
        let tail = blocks.remainder();
        // Full blocks: loops of fixed length, which the compiler unrolls.
        let hash = blocks.fold(self.0, |hash, block| {
            let body = (0..BLOCK / GROUP)
                .map(|group| {
                    let terms = (group * GROUP..(group + 1) * GROUP)
                        .map(|j| TERMS[usize::from(block[j])][j]);
                    u128::from(terms.sum::<u64>())
                })
                .sum();
            combine(hash, BLOCK, body)
        });
        TextHash(extended_by_block(hash, tail))
    }
}

/// `hash·B^k + Σ (block[j] + 1)·B^(k−1−j) mod 2^61 − 1`, with `k = block.len() <= BLOCK`.
fn extended_by_block(hash: u64, block: &[u8]) -> u64 {
    let skip = BLOCK - block.len();
    let body = block
        .chunks(GROUP)
        .zip((skip..).step_by(GROUP))
        .map(|(bytes, first)| {
            let terms = bytes
                .iter()
                .zip(first..)
                .map(|(&byte, j)| TERMS[usize::from(byte)][j]);
            u128::from(terms.sum::<u64>())
        })
        .sum();
    combine(hash, block.len(), body)
}

/// `hash·B^k + body`, reduced.
fn combine(hash: u64, k: usize, body: u128) -> u64 {
    reduce_wide(u128::from(hash) * u128::from(POWERS[k]) + body)
}

const fn terms() -> [[u64; BLOCK]; 256] {
    let mut table = [[0; BLOCK]; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut j = 0;
        while j < BLOCK {
            table[byte][j] = mul_mod(byte as u64 + 1, POWERS[BLOCK - 1 - j]);
            j += 1;
        }
        byte += 1;
    }
    table
}

const fn powers() -> [u64; BLOCK + 1] {
    let mut table = [1; BLOCK + 1];
    let mut k = 1;
    while k <= BLOCK {
        table[k] = mul_mod(table[k - 1], BASE);
        k += 1;
    }
    table
}

/// The digest term of one (key, value) pair of the map.
pub(crate) fn pair_hash(key: &str, value: TextHash, value_len: usize) -> u64 {
    pair_hash_of(KeyHash::of(key), value, value_len)
}

/// The part of [`pair_hash`] that depends on the key alone, kept with each stored value
/// so that a write does not hash its key again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyHash(u64);

impl KeyHash {
    /// The key part of `key`'s pairs.
    pub(crate) fn of(key: &str) -> KeyHash {
        KeyHash(mix(fnv1a(key.as_bytes()) ^ DOMAIN_PAIR))
    }
}

/// [`pair_hash`], given the key's part.
pub(crate) fn pair_hash_of(key: KeyHash, value: TextHash, value_len: usize) -> u64 {
    mix(key.0.wrapping_add(value.0) ^ mix(value_len as u64))
}

/// The digest term of one duplicate-table row (client, last applied seq).
pub(crate) fn client_hash(client: u64, seq: u64) -> u64 {
    mix(mix(client ^ DOMAIN_CLIENT).wrapping_add(seq))
}

const fn mul_mod(a: u64, b: u64) -> u64 {
    reduce_wide(a as u128 * b as u128)
}

/// `x mod (2^61 − 1)` for `x < 2^123`. As 2^61 ≡ 1, the high bits fold onto the low ones:
/// `(x mod 2^61) + (x >> 61)` is below 2^61 + 2^62, and one more fold brings it below
/// 2^61 + 3, which one conditional subtraction reduces.
const fn reduce_wide(x: u128) -> u64 {
    let folded = ((x & MODULUS as u128) + (x >> 61)) as u64;
    let folded = (folded & MODULUS) + (folded >> 61);
    if folded >= MODULUS {
        folded - MODULUS
    } else {
        folded
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

    /// The definition, one byte at a time.
    fn reference(hash: u64, text: &str) -> u64 {
        let modulus = u128::from(MODULUS);
        text.bytes().fold(hash, |hash, byte| {
            ((u128::from(hash) * u128::from(BASE) + u128::from(byte) + 1) % modulus) as u64
        })
    }

    #[test]
    fn the_blocked_hash_equals_the_bytewise_definition() {
        // Lengths around every block boundary, all byte values, and grown hashes.
        let alphabet: Vec<char> = "a\u{0}\u{7f}é€😀~ ".chars().collect();
        for len in 0..(3 * BLOCK + 2) {
            let text: String = (0..len)
                .map(|i| alphabet[(i * 7 + len) % alphabet.len()])
                .collect();
            assert_eq!(TextHash::of(&text).0, reference(0, &text), "{text:?}");
            let start = reference(0, "prefix");
            assert_eq!(
                TextHash(start).extended(&text).0,
                reference(start, &text),
                "{text:?}"
            );
        }
        let every_byte: String = (0..=0x7f_u8).map(char::from).collect();
        assert_eq!(TextHash::of(&every_byte).0, reference(0, &every_byte));
        let top = TextHash(MODULUS - 1).extended(&"\u{7f}".repeat(40));
        assert_eq!(top.0, reference(MODULUS - 1, &"\u{7f}".repeat(40)));
    }

    #[test]
    fn the_hash_of_known_texts_does_not_change() {
        // Pinned values: snapshots and digests of other versions stay comparable.
        assert_eq!(TextHash::of("").0, 0);
        assert_eq!(TextHash::of("a").0, 98);
        assert_eq!(TextHash::of("ab").0, 800_564_129_512_329_712);
        assert_eq!(TextHash::of("hello, world").0, 1_803_400_472_533_489_839);
        assert_eq!(TextHash::of(&"v".repeat(64)).0, 1_649_240_218_703_143_494);
    }

    #[test]
    fn wide_reduction_matches_u128_arithmetic() {
        let modulus = u128::from(MODULUS);
        for x in [
            0,
            modulus,
            modulus - 1,
            modulus + 1,
            (1 << 123) - 1,
            1 << 122,
        ] {
            assert_eq!(u128::from(reduce_wide(x)), x % modulus);
        }
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
