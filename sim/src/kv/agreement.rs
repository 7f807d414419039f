//! KV state machine safety: every server that has applied index i holds the same key/value
//! state there. Each server reports the state digest at every index it reaches (by an
//! entry or by installing a snapshot); the first report of an index fixes what every later
//! one must say.

use std::collections::BTreeMap;

use kv_core::{Applied, StateDigest};
use raft_core::{LogIndex, Term};

/// The digests seen so far, per applied index.
#[derive(Clone, Debug, Default)]
pub struct KvAgreement {
    seen: BTreeMap<LogIndex, (Term, StateDigest, usize)>,
}

impl KvAgreement {
    /// Server `server` reached `applied`: it must agree with whoever reached it first.
    pub fn observe(&mut self, server: usize, applied: &Applied) -> Result<(), String> {
        let report = (applied.term, applied.digest, server);
        match self.seen.get(&applied.index) {
            None => {
                self.seen.insert(applied.index, report);
                Ok(())
            }
            Some(&(term, digest, first)) if (term, digest) != (applied.term, applied.digest) => {
                Err(format!(
                    "kv state machine safety: at index {} server {first} holds {}/{:016x}, server {server} holds {}/{:016x} ({:?})",
                    applied.index.0, term.0, digest.0, applied.term.0, applied.digest.0, applied.source
                ))
            }
            Some(_) => Ok(()),
        }
    }

    /// The highest index any server applied.
    pub fn max_index(&self) -> LogIndex {
        self.seen
            .keys()
            .next_back()
            .copied()
            .unwrap_or(LogIndex::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kv_core::AppliedSource;

    fn applied(index: u64, digest: u64) -> Applied {
        Applied {
            index: LogIndex(index),
            term: Term(1),
            digest: StateDigest(digest),
            source: AppliedSource::Entry,
        }
    }

    #[test]
    fn servers_that_differ_at_one_index_are_caught() {
        let mut agreement = KvAgreement::default();
        agreement.observe(0, &applied(1, 7)).unwrap();
        agreement.observe(1, &applied(1, 7)).unwrap();
        agreement.observe(1, &applied(2, 9)).unwrap();
        let error = agreement.observe(2, &applied(2, 8)).unwrap_err();
        assert!(error.contains("kv state machine safety"), "{error}");
        assert_eq!(agreement.max_index(), LogIndex(2));
    }
}
