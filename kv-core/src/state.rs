//! The replicated state of a KV server: the key/value map, the duplicate table and the
//! running [`StateDigest`] (kept up to date by every write, or computed only when asked:
//! see [`KvState::without_running_digest`]).
//!
//! Applying a command is deterministic and depends on nothing but the state and the
//! command (not on the server's configuration or role), so every server that applies the
//! same log prefix holds the same state. The duplicate table keeps, per client, the
//! highest sequence number applied: a command whose (client, seq) is not above it is a
//! duplicate and changes nothing. A clerk has one call in flight at a time and numbers
//! its calls upwards, so "not above the last one" is exactly "already applied".

use std::collections::hash_map::Entry;
use std::collections::BTreeSet;

use crate::command::{Command, OpRef};
use crate::digest::{client_hash, pair_hash, pair_hash_of, KeyHash, TextHash};
use crate::keys::{ClientMap, KeyMap};
use crate::types::{ClientId, Seq, StateDigest};

/// A value, its running hash and the hash of its key (see [`KeyHash`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StoredValue {
    pub(crate) text: String,
    pub(crate) hash: TextHash,
    pub(crate) key: KeyHash,
}

impl StoredValue {
    /// `text` stored under `key`, with its hashes.
    pub(crate) fn new(key: &str, text: String) -> StoredValue {
        StoredValue {
            hash: TextHash::of(&text),
            key: KeyHash::of(key),
            text,
        }
    }

    /// This pair's term of the digest.
    fn pair_hash(&self) -> u64 {
        pair_hash_of(self.key, self.hash, self.text.len())
    }
}

/// The map, the duplicate table and the digest of both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KvState {
    /// Never iterated in its own order (see [`crate::keys`]).
    map: KeyMap<StoredValue>,
    /// The keys of `map` in order, for the snapshot: keys are never removed, so a write
    /// adds to it only the first time it writes a key.
    order: BTreeSet<Box<str>>,
    /// Never iterated in its own order either.
    last_seq: ClientMap<Seq>,
    /// The running digest, or `None` if this state keeps none: then writes leave the
    /// stored hashes alone (they mean nothing) and [`KvState::digest`] hashes the texts.
    digest: Option<u64>,
}

impl Default for KvState {
    /// An empty state that keeps a running digest.
    fn default() -> KvState {
        KvState {
            map: KeyMap::default(),
            order: BTreeSet::new(),
            last_seq: ClientMap::default(),
            digest: Some(0),
        }
    }
}

/// What applying one command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Effect {
    /// The (client, seq) had been applied before: the map and table did not change.
    pub(crate) duplicate: bool,
    /// The value a Get read (at this point of the log, duplicate or not), if asked for.
    pub(crate) read: Option<String>,
}

impl KvState {
    /// A state built from its parts (a decoded snapshot), with its digest computed.
    pub(crate) fn from_parts(map: KeyMap<StoredValue>, last_seq: ClientMap<Seq>) -> KvState {
        let order = map.keys().cloned().collect();
        let mut state = KvState {
            map,
            order,
            last_seq,
            digest: None,
        };
        state.digest = Some(state.recompute_digest().0);
        state
    }

    /// This state without its running digest: later writes hash nothing, and
    /// [`KvState::digest`] costs O(state) (for servers that report no applies).
    pub(crate) fn without_running_digest(mut self) -> KvState {
        self.digest = None;
        self
    }

    /// Whether writes keep the digest up to date.
    pub(crate) fn has_running_digest(&self) -> bool {
        self.digest.is_some()
    }

    /// Applies one committed command. With `want_read`, a Get returns the value it reads
    /// (a duplicate Get reads again at its own position in the log: still linearizable,
    /// since the clerk's call is still open when it retries).
    ///
    /// With `dedup` off (the planted `NoDuplicateDetection` bug), a duplicate is applied
    /// again.
    pub(crate) fn apply(&mut self, command: Command<'_>, want_read: bool, dedup: bool) -> Effect {
        let read = match (command.op, want_read) {
            (OpRef::Get { key }, true) => Some(self.get(key).unwrap_or_default().to_owned()),
            _ => None,
        };
        let duplicate = !self.record(command.client, command.seq) && dedup;
        if !duplicate {
            match command.op {
                OpRef::Get { .. } => {}
                OpRef::Put { key, value } => self.put(key, value),
                OpRef::Append { key, value } => self.append(key, value),
            }
        }
        Effect { duplicate, read }
    }

    /// Whether (client, seq) has been applied (or a later call of the same client).
    pub(crate) fn is_applied(&self, client: ClientId, seq: Seq) -> bool {
        self.last_seq.get(&client).is_some_and(|&last| seq <= last)
    }

    /// The highest sequence number applied for `client`.
    pub(crate) fn last_seq(&self, client: ClientId) -> Option<Seq> {
        self.last_seq.get(&client).copied()
    }

    /// The value of `key`, if it was ever written.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|stored| stored.text.as_str())
    }

    /// The map, in key order.
    pub(crate) fn sorted_pairs(&self) -> Vec<(&str, &StoredValue)> {
        debug_assert_eq!(self.order.len(), self.map.len(), "a key out of the order");
        self.order
            .iter()
            .filter_map(|key| Some((&**key, self.map.get(key)?)))
            .collect()
    }

    /// How many keys the map holds.
    pub(crate) fn key_count(&self) -> usize {
        self.map.len()
    }

    /// The duplicate table, in client order (sorted on each call: O(n log n)).
    pub(crate) fn sorted_clients(&self) -> Vec<(ClientId, Seq)> {
        let mut rows: Vec<(ClientId, Seq)> = self
            .last_seq
            .iter()
            .map(|(&client, &seq)| (client, seq))
            .collect();
        // Clients are unique: an unstable sort gives the one order.
        rows.sort_unstable_by_key(|&(client, _)| client);
        rows
    }

    /// How many clients the duplicate table remembers.
    pub(crate) fn client_count(&self) -> usize {
        self.last_seq.len()
    }

    /// The digest: the running one, or (without it) computed from the texts, O(state).
    pub(crate) fn digest(&self) -> StateDigest {
        match self.digest {
            Some(digest) => StateDigest(digest),
            None => self.digest_of_texts(),
        }
    }

    /// The digest computed from the texts themselves.
    fn digest_of_texts(&self) -> StateDigest {
        self.digest_with(|stored| TextHash::of(&stored.text))
    }

    /// The digest computed from scratch from the stored hashes (what the running digest
    /// must equal).
    pub(crate) fn recompute_digest(&self) -> StateDigest {
        self.digest_with(|stored| stored.hash)
    }

    /// The digest with each value's hash taken by `value_hash`: a sum, so the maps' own
    /// order does not show.
    fn digest_with(&self, value_hash: impl Fn(&StoredValue) -> TextHash) -> StateDigest {
        let pairs = self
            .map
            .iter()
            .map(|(key, stored)| pair_hash(key, value_hash(stored), stored.text.len()));
        let clients = self
            .last_seq
            .iter()
            .map(|(client, seq)| client_hash(client.0, seq.0));
        StateDigest(pairs.chain(clients).fold(0, u64::wrapping_add))
    }

    /// Records (client, seq) as applied, unless it (or a later call) was: returns
    /// whether it is new.
    fn record(&mut self, client: ClientId, seq: Seq) -> bool {
        match self.last_seq.entry(client) {
            Entry::Occupied(mut row) => {
                if seq <= *row.get() {
                    return false;
                }
                let old = row.insert(seq);
                if let Some(digest) = &mut self.digest {
                    *digest = digest.wrapping_sub(client_hash(client.0, old.0));
                }
            }
            Entry::Vacant(row) => {
                row.insert(seq);
            }
        }
        if let Some(digest) = &mut self.digest {
            *digest = digest.wrapping_add(client_hash(client.0, seq.0));
        }
        true
    }

    fn put(&mut self, key: &str, value: &str) {
        if let Some(old) = self.map.get_mut(key) {
            let removed = old.pair_hash();
            // Reuse the old value's buffer.
            old.text.clear();
            old.text.push_str(value);
            if let Some(digest) = &mut self.digest {
                old.hash = TextHash::of(value);
                *digest = digest.wrapping_sub(removed).wrapping_add(old.pair_hash());
            }
        } else {
            let stored = match &mut self.digest {
                Some(digest) => {
                    let stored = StoredValue::new(key, value.to_owned());
                    *digest = digest.wrapping_add(stored.pair_hash());
                    stored
                }
                None => StoredValue {
                    text: value.to_owned(),
                    ..StoredValue::default()
                },
            };
            self.map.insert(key.into(), stored);
            self.order.insert(key.into());
        }
    }

    fn append(&mut self, key: &str, suffix: &str) {
        if let Some(old) = self.map.get_mut(key) {
            let removed = old.pair_hash();
            old.text.push_str(suffix);
            if let Some(digest) = &mut self.digest {
                old.hash = old.hash.extended(suffix);
                *digest = digest.wrapping_sub(removed).wrapping_add(old.pair_hash());
            }
        } else {
            self.put(key, suffix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Op, Request};

    /// Applies an owned request.
    fn apply(state: &mut KvState, request: Request, want_read: bool) -> Effect {
        state.apply(Command::of(&request), want_read, true)
    }

    fn request(client: u64, seq: u64, op: Op) -> Request {
        Request {
            client: ClientId(client),
            seq: Seq(seq),
            op,
        }
    }

    fn append(key: &str, value: &str) -> Op {
        Op::Append {
            key: key.into(),
            value: value.into(),
        }
    }

    fn get(key: &str) -> Op {
        Op::Get { key: key.into() }
    }

    #[test]
    fn put_append_get() {
        let mut state = KvState::default();
        let put = Op::Put {
            key: "k".into(),
            value: "a".into(),
        };
        assert!(!apply(&mut state, request(1, 1, put), false).duplicate);
        apply(&mut state, request(1, 2, append("k", "b")), false);
        apply(&mut state, request(1, 3, append("new", "c")), false);
        assert_eq!(
            apply(&mut state, request(1, 4, get("k")), true)
                .read
                .as_deref(),
            Some("ab")
        );
        assert_eq!(
            apply(&mut state, request(1, 5, get("none")), true)
                .read
                .as_deref(),
            Some("")
        );
        assert_eq!(state.get("new"), Some("c"));
        assert_eq!(state.get("none"), None);
        assert_eq!(state.digest(), state.recompute_digest());
    }

    #[test]
    fn a_duplicate_changes_nothing_and_a_duplicate_get_reads_again() {
        let mut state = KvState::default();
        apply(&mut state, request(1, 1, append("k", "x")), false);
        let before = state.clone();
        let effect = apply(&mut state, request(1, 1, append("k", "x")), false);
        assert!(effect.duplicate);
        assert_eq!(state, before);
        apply(&mut state, request(2, 1, append("k", "y")), false);
        let effect = apply(&mut state, request(1, 1, get("k")), true);
        assert!(effect.duplicate);
        assert_eq!(effect.read.as_deref(), Some("xy"));
        assert_eq!(state.last_seq(ClientId(1)), Some(Seq(1)));
        assert_eq!(state.get("k"), Some("xy"));
    }

    #[test]
    fn a_state_without_running_digest_computes_the_same_digest() {
        let mut tracked = KvState::default();
        let mut untracked = KvState::default().without_running_digest();
        assert!(!untracked.has_running_digest());
        let ops = [
            append("k", "x"),
            Op::Put {
                key: "k".into(),
                value: "longer".into(),
            },
            append("k", "y"),
            append("new", "z"),
            get("k"),
        ];
        for (seq, op) in ops.into_iter().enumerate() {
            let request = request(seq as u64 % 2 + 1, seq as u64 + 1, op);
            apply(&mut tracked, request.clone(), false);
            apply(&mut untracked, request, false);
            assert_eq!(untracked.digest(), tracked.digest());
        }
        assert_eq!(untracked.get("k"), Some("longery"));
        assert_eq!(untracked.get("new"), Some("z"));
    }

    #[test]
    fn the_digest_tells_states_apart_and_not_paths() {
        let mut a = KvState::default();
        apply(&mut a, request(1, 1, append("k", "x")), false);
        apply(&mut a, request(1, 2, append("k", "y")), false);
        let mut b = KvState::default();
        let put = Op::Put {
            key: "k".into(),
            value: "xy".into(),
        };
        apply(&mut b, request(1, 2, put), false);
        // The same map and table, reached two ways.
        assert_eq!(a.digest(), b.digest());
        let mut c = b.clone();
        apply(&mut c, request(1, 3, get("k")), false);
        assert_ne!(
            b.digest(),
            c.digest(),
            "the duplicate table is part of the digest"
        );
        let mut d = KvState::default();
        let put = Op::Put {
            key: "k".into(),
            value: "yx".into(),
        };
        apply(&mut d, request(1, 2, put), false);
        assert_ne!(b.digest(), d.digest(), "the value is part of the digest");
    }
}
