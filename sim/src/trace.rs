//! The run's trace: one line per event, and a 64-bit hash of everything that happened
//! (the determinism fingerprint). Lines are kept only when asked for; the hash always is.

/// The trace of one run.
#[derive(Clone, Debug)]
pub struct Trace {
    hash: u64,
    lines: Option<Vec<String>>,
}

impl Trace {
    /// A trace that keeps its lines if `record` is set.
    pub fn new(record: bool) -> Trace {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            lines: record.then(Vec::new),
        }
    }

    /// Whether lines are being kept.
    pub fn is_recording(&self) -> bool {
        self.lines.is_some()
    }

    /// Mixes raw words into the hash (FNV-1a over their little-endian bytes).
    pub fn mix(&mut self, words: &[u64]) {
        for word in words {
            self.mix_bytes(&word.to_le_bytes());
        }
    }

    /// Mixes bytes into the hash.
    pub fn mix_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.hash ^= u64::from(byte);
            self.hash = self.hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Records a line if lines are kept; `line` is only called then.
    pub fn line(&mut self, line: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.lines {
            lines.push(line());
        }
    }

    /// The fingerprint so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The kept lines (empty if not recording).
    pub fn lines(&self) -> &[String] {
        self.lines.as_deref().unwrap_or(&[])
    }
}
