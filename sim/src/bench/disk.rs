//! The bench's disk: it checks every persist action against what came before and counts
//! the bytes a write-ahead log would write for it, without keeping the entries in memory
//! (each node's log already holds them, as tikv/raft-rs's MemStorage does; a real disk
//! is not RAM).

use prost::encoding::encoded_len_varint;
use raft_core::PersistAction;

/// One node's disk.
#[derive(Clone, Debug, Default)]
pub struct CountingDisk {
    last_index: u64,
    snapshot_index: u64,
}

impl CountingDisk {
    /// Writes `action`; returns the bytes written, or why the action makes no sense.
    pub fn write(&mut self, action: &PersistAction) -> Result<u64, String> {
        let field = |value: u64| 1 + encoded_len_varint(value) as u64;
        match action {
            PersistAction::HardState { term, voted_for } => {
                Ok(field(term.0) + field(voted_for.map_or(0, |id| id.0)))
            }
            PersistAction::Append(entries) => {
                let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
                    return Ok(0);
                };
                // A run's indexes are consecutive (raft-core's invariant, checked by its
                // own debug builds): its ends say where it starts and that it is whole.
                let (first, last) = (first.index().0, last.index().0);
                if first != self.last_index + 1 || last - first + 1 != entries.len() as u64 {
                    return Err(format!(
                        "append of {first}..={last} ({} entries) after {}",
                        entries.len(),
                        self.last_index
                    ));
                }
                self.last_index = last;
                Ok(entries.records_len() as u64)
            }
            PersistAction::TruncateFrom(index) => {
                if index.0 <= self.snapshot_index {
                    return Err(format!(
                        "truncation from {} into the snapshot at {}",
                        index.0, self.snapshot_index
                    ));
                }
                self.last_index = self.last_index.min(index.0 - 1);
                Ok(0)
            }
            PersistAction::Snapshot { index, term, data } => {
                self.snapshot_index = index.0;
                self.last_index = self.last_index.max(index.0);
                Ok(field(index.0) + field(term.0) + data.len() as u64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_core::{entry_record_len, Entry, LogIndex, Term};

    #[test]
    fn counts_records_and_refuses_gaps() {
        let mut disk = CountingDisk::default();
        let entry = |i| Entry::new(LogIndex(i), Term(1), "x".into());
        let first = disk
            .write(&PersistAction::Append(vec![entry(1), entry(2)].into()))
            .unwrap();
        assert_eq!(first, 2 * entry_record_len(&entry(1)) as u64);
        assert!(disk
            .write(&PersistAction::Append(vec![entry(4)].into()))
            .is_err());
        disk.write(&PersistAction::TruncateFrom(LogIndex(2)))
            .unwrap();
        assert!(disk
            .write(&PersistAction::Append(vec![entry(2)].into()))
            .is_ok());
    }
}
