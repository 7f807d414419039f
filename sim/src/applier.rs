//! The lab tester's appliers: what every server applied, checked as it happens.
//!
//! Plain applier: every server applies the same command at the same index, and never
//! index i before i − 1. Snapshot applier (2022+): each apply comes right after the last
//! one; after index i with (i + 1) % 10 == 0 the tester hands the node a snapshot of
//! (i, every command so far); an installed snapshot replaces the tester's record; a
//! restarted server reloads its persisted snapshot.

use bytes::Bytes;
use prost::Message as _;

/// How many applied entries between tester snapshots (the lab's `SnapShotInterval`).
pub const SNAPSHOT_INTERVAL: u64 = 10;

/// The tester's snapshot of one server: its last index and every command up to it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TesterSnapshot {
    /// The last applied index the snapshot covers.
    #[prost(uint64, tag = "1")]
    pub last_index: u64,
    /// Commands 1..=last_index, in order (empty bytes where the tester knew none).
    #[prost(bytes = "bytes", repeated, tag = "2")]
    pub commands: Vec<Bytes>,
}

/// What the tester recorded for every server.
#[derive(Clone, Debug)]
pub struct Applier {
    /// Per server, per index (index 1 at position 0): the applied command.
    logs: Vec<Vec<Option<Bytes>>>,
    last_applied: Vec<u64>,
    max_index: u64,
    snapshots: bool,
    snapshot_interval: u64,
}

impl Applier {
    /// An applier for `servers` servers; `snapshots` selects the snapshot applier.
    pub fn new(servers: usize, snapshots: bool) -> Applier {
        Applier {
            logs: vec![Vec::new(); servers],
            last_applied: vec![0; servers],
            max_index: 0,
            snapshots,
            snapshot_interval: SNAPSHOT_INTERVAL,
        }
    }

    /// Snapshots after index i when (i + 1) % `interval` == 0 (0: only on request).
    #[must_use]
    pub fn with_snapshot_interval(mut self, interval: u64) -> Applier {
        self.snapshot_interval = interval;
        self
    }

    /// A tester snapshot of everything `server` applied so far, if it applied anything.
    pub fn snapshot_now(&self, server: usize) -> Option<(u64, Bytes)> {
        let index = self.last_applied[server];
        (self.snapshots && index > 0).then(|| (index, self.snapshot_bytes(server, index)))
    }

    /// The largest index any server applied.
    pub fn max_index(&self) -> u64 {
        self.max_index
    }

    /// The command `server` applied at `index`, if any.
    pub fn applied_at(&self, server: usize, index: u64) -> Option<&Bytes> {
        let position = usize::try_from(index.checked_sub(1)?).ok()?;
        self.logs[server].get(position)?.as_ref()
    }

    /// Records a committed command; returns the tester snapshot to hand back to the node,
    /// if this index calls for one.
    pub fn on_entry(
        &mut self,
        server: usize,
        index: u64,
        command: &Bytes,
    ) -> Result<Option<Bytes>, String> {
        if self.snapshots && index != self.last_applied[server] + 1 {
            return Err(format!(
                "server {server} apply out of order: expected index {}, got {index}",
                self.last_applied[server] + 1
            ));
        }
        for other in 0..self.logs.len() {
            if let Some(theirs) = self.applied_at(other, index) {
                if other != server && theirs != command {
                    return Err(format!(
                        "commit index={index} server={server} {} != server={other} {}",
                        show(command),
                        show(theirs)
                    ));
                }
            }
        }
        if index > 1 && self.applied_at(server, index - 1).is_none() {
            return Err(format!("server {server} apply out of order {index}"));
        }
        self.record(server, index, command.clone());
        self.last_applied[server] = index;
        self.max_index = self.max_index.max(index);
        if self.snapshots && self.snapshot_interval > 0 && (index + 1) % self.snapshot_interval == 0
        {
            return Ok(Some(self.snapshot_bytes(server, index)));
        }
        Ok(None)
    }

    /// Takes in a snapshot the node installed (or reloaded on restart).
    pub fn on_snapshot(&mut self, server: usize, index: u64, data: &[u8]) -> Result<(), String> {
        if !self.snapshots {
            return Ok(());
        }
        let snapshot = TesterSnapshot::decode(data)
            .map_err(|e| format!("server {server} snapshot at {index} does not decode: {e}"))?;
        if snapshot.last_index != index {
            return Err(format!(
                "server {server} snapshot doesn't match its index: holds {}, installed at {index}",
                snapshot.last_index
            ));
        }
        self.logs[server] = snapshot.commands.into_iter().map(Some).collect();
        self.last_applied[server] = index;
        self.max_index = self.max_index.max(index);
        Ok(())
    }

    /// A server restarts: its service state is gone until it reloads a snapshot.
    pub fn on_restart(
        &mut self,
        server: usize,
        snapshot_index: u64,
        snapshot: &[u8],
    ) -> Result<(), String> {
        self.last_applied[server] = 0;
        if self.snapshots && !snapshot.is_empty() {
            self.on_snapshot(server, snapshot_index, snapshot)?;
        }
        Ok(())
    }

    /// The lab's nCommitted: how many servers applied `index`, and the command, failing if
    /// two servers disagree.
    pub fn n_committed(&self, index: u64) -> Result<(usize, Option<Bytes>), String> {
        let mut count = 0;
        let mut value: Option<&Bytes> = None;
        for server in 0..self.logs.len() {
            if let Some(command) = self.applied_at(server, index) {
                if let Some(seen) = value {
                    if seen != command {
                        return Err(format!(
                            "committed values do not match: index {index}, {} != {}",
                            show(seen),
                            show(command)
                        ));
                    }
                }
                count += 1;
                value = Some(command);
            }
        }
        Ok((count, value.cloned()))
    }

    fn record(&mut self, server: usize, index: u64, command: Bytes) {
        let position = (index - 1) as usize;
        let log = &mut self.logs[server];
        if log.len() <= position {
            log.resize(position + 1, None);
        }
        log[position] = Some(command);
    }

    fn snapshot_bytes(&self, server: usize, index: u64) -> Bytes {
        let commands = (1..=index)
            .map(|i| self.applied_at(server, i).cloned().unwrap_or_default())
            .collect();
        TesterSnapshot {
            last_index: index,
            commands,
        }
        .encode_to_vec()
        .into()
    }
}

/// A short printable form of a command.
pub fn show(command: &[u8]) -> String {
    let text = String::from_utf8_lossy(command);
    if text.chars().count() > 24 {
        let head: String = text.chars().take(24).collect();
        format!("{head}…({} bytes)", command.len())
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_applier_requires_last_applied_plus_one_and_snapshots_every_ten() {
        let mut applier = Applier::new(1, true);
        for index in 1..=8 {
            assert_eq!(
                applier
                    .on_entry(0, index, &Bytes::from(format!("{index}")))
                    .unwrap(),
                None
            );
        }
        let snapshot = applier
            .on_entry(0, 9, &Bytes::from("9"))
            .unwrap()
            .expect("a snapshot at 9");
        let decoded = TesterSnapshot::decode(snapshot).unwrap();
        assert_eq!(decoded.last_index, 9);
        assert_eq!(decoded.commands.len(), 9);
        assert!(
            applier.on_entry(0, 9, &Bytes::from("9")).is_err(),
            "re-applying 9 is out of order"
        );
        applier.on_restart(0, 0, &[]).unwrap();
        assert!(applier.on_entry(0, 2, &Bytes::from("2")).is_err());
    }
}
