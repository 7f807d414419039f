//! The bench's commands. The command for index `i` is `i` in little endian, repeated to
//! the payload size, so a service can check that it applied the right command at the
//! right index. Commands are cut from shared 64 KiB arenas, as a client batching its
//! requests would hold them: one allocation per arena, filled in one pass, and a
//! refcounted slice per command.

use bytes::Bytes;

/// The size of one arena (larger if a single payload needs more).
const ARENA_BYTES: usize = 64 * 1024;

/// Makes the commands of a run, in index order.
#[derive(Debug)]
pub struct Commands {
    payload: usize,
    /// The current arena, filled with the commands from `arena_first` on.
    arena: Bytes,
    /// The index of the arena's first command.
    arena_first: u64,
}

impl Commands {
    /// Commands of `payload` bytes each.
    pub fn new(payload: usize) -> Commands {
        Commands {
            payload,
            arena: Bytes::new(),
            arena_first: 0,
        }
    }

    /// The commands for indexes `first..first + count`.
    pub fn batch(&mut self, first: u64, count: usize) -> Vec<Bytes> {
        (first..first + count as u64)
            .map(|index| self.command(index))
            .collect()
    }

    /// The command for `index` (a slice of the arena that holds it; a fresh arena from
    /// `index` on if the current one does not).
    pub fn command(&mut self, index: u64) -> Bytes {
        let slot = index.wrapping_sub(self.arena_first);
        let start =
            usize::try_from(slot).map_or(usize::MAX, |slot| slot.saturating_mul(self.payload));
        if index < self.arena_first || start.saturating_add(self.payload) > self.arena.len() {
            self.fill_arena(index);
            return self.arena.slice(0..self.payload);
        }
        self.arena.slice(start..start + self.payload)
    }

    /// A fresh arena holding the commands from `first` on, as many as fit.
    fn fill_arena(&mut self, first: u64) {
        let count = (ARENA_BYTES / self.payload.max(1)).max(1);
        let mut arena = Vec::with_capacity(count * self.payload);
        for offset in 0..count as u64 {
            push_command(first + offset, self.payload, &mut arena);
        }
        self.arena = Bytes::from(arena);
        self.arena_first = first;
    }
}

/// Appends the command of `payload` bytes for `index` to `out`.
fn push_command(index: u64, payload: usize, out: &mut Vec<u8>) {
    let pattern = index.to_le_bytes();
    for _ in 0..payload / pattern.len() {
        out.extend_from_slice(&pattern);
    }
    out.extend_from_slice(&pattern[..payload % pattern.len()]);
}

/// Whether `data` is the command of `payload` bytes for `index`.
pub fn matches(index: u64, data: &[u8], payload: usize) -> bool {
    let pattern = index.to_le_bytes();
    let mut words = data.chunks_exact(pattern.len());
    // Compared as numbers, not slices (a slice comparison calls memcmp, even on none).
    let word_matches = |word: &[u8]| {
        let mut padded = [0; 8];
        padded[..word.len()].copy_from_slice(word);
        let mask = u64::MAX
            .checked_shr(64 - 8 * word.len() as u32)
            .unwrap_or(0);
        u64::from_le_bytes(padded) == index & mask
    };
    data.len() == payload
        && words.all(word_matches)
        && (words.remainder().is_empty() || word_matches(words.remainder()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_carry_their_index_and_length() {
        let mut commands = Commands::new(20);
        let batch = commands.batch(300, 3);
        assert_eq!(batch.len(), 3);
        assert!(matches(301, &batch[1], 20));
        assert!(!matches(300, &batch[1], 20), "another index's command");
        assert!(!matches(301, &batch[1][..19], 20), "a short command");
        let mut empty = Commands::new(0);
        assert!(empty.batch(1, 4).iter().all(|c| matches(2, c, 0)));
    }

    #[test]
    fn commands_span_arenas() {
        let payload = 1000;
        let mut commands = Commands::new(payload);
        let count = 3 * ARENA_BYTES / payload;
        let batch = commands.batch(1, count);
        for (offset, command) in batch.iter().enumerate() {
            assert!(matches(1 + offset as u64, command, payload));
        }
        let huge = Commands::new(2 * ARENA_BYTES).batch(7, 2);
        assert!(matches(8, &huge[1], 2 * ARENA_BYTES));
    }
}
