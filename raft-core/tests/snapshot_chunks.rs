//! InstallSnapshot in chunks (Figure 13 with offsets, a total length and `done`): every
//! message within `max_message_bytes`; a lost chunk sent again without restarting the
//! transfer; duplicate chunks and chunks of an older snapshot changing nothing; a
//! follower crash mid-transfer and a leader whose snapshot changes mid-transfer both
//! restarting it from offset 0; and, for any interleaving of two snapshots' chunks, a
//! follower installing only a complete snapshot, byte for byte.

mod router;

use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed};
use raft_core::bytes::Bytes;
use raft_core::{
    Action, Body, Input, InstallSnapshot, InstallSnapshotReply, LogIndex, Message, PersistAction,
    Term,
};
use router::build::{message, node, sends};
use router::{Applied, Router};

/// The message size limit of most tests: a chunk carries about 190 snapshot bytes.
const LIMIT: usize = 256;

/// `len` bytes of a pattern that `tag` tells apart.
fn snapshot_bytes(len: usize, tag: u8) -> Bytes {
    (0..len)
        .map(|i| tag.wrapping_mul(31).wrapping_add((i % 251) as u8))
        .collect::<Vec<u8>>()
        .into()
}

/// Hands node `id` a service snapshot of `data` up to `index`; asserts it was taken.
fn take_snapshot(r: &mut Router, id: u64, index: u64, data: Bytes) {
    let index = LogIndex(index);
    let actions = r.step(id, Input::Snapshot { index, data });
    assert!(
        actions.contains(&Action::Snapshot(Ok(index))),
        "{actions:?}"
    );
}

/// n1 leads three nodes whose messages are at most `limit` bytes; n3 was cut off while n1
/// committed six entries and took a snapshot of `data` at 6. Healed, nothing delivered.
fn cluster_sending(limit: usize, data: Bytes) -> Router {
    let mut r = Router::with_builder(3, |b| b.max_message_bytes(limit));
    r.elect(1);
    r.isolate(3);
    for k in 1..=6 {
        r.propose(1, format!("cmd{k}")).expect("leader");
    }
    r.deliver_all();
    take_snapshot(&mut r, 1, 6, data);
    r.heal();
    r.delivered.clear();
    r
}

/// The InstallSnapshot in `message`, if it is one.
fn chunk_of(message: &Message) -> Option<&InstallSnapshot> {
    match message.body() {
        Some(Body::InstallSnapshot(chunk)) => Some(chunk),
        _ => None,
    }
}

/// The InstallSnapshotReply in `message`, if it is one.
fn reply_of(message: &Message) -> Option<&InstallSnapshotReply> {
    match message.body() {
        Some(Body::InstallSnapshotReply(reply)) => Some(reply),
        _ => None,
    }
}

/// The chunks delivered so far, in order.
fn delivered_chunks(r: &Router) -> Vec<InstallSnapshot> {
    r.delivered.iter().filter_map(chunk_of).cloned().collect()
}

/// Moves the network one hop at a time (every message in flight, through `keep`, which
/// drops what it refuses), ticking every live node when nothing is in flight, until
/// `done` holds.
fn run_until(
    r: &mut Router,
    mut keep: impl FnMut(&Message) -> bool,
    mut done: impl FnMut(&Router) -> bool,
) {
    for _ in 0..20_000 {
        if done(r) {
            return;
        }
        let in_flight = r.take_queue();
        if in_flight.is_empty() {
            for id in r.ids() {
                if r.is_up(id) {
                    r.tick(id);
                }
            }
            continue;
        }
        for message in in_flight.into_iter().filter(|m| keep(m)) {
            r.inject(message);
        }
        r.deliver_in_flight();
    }
    panic!("not done after 20000 hops");
}

fn installed(r: &Router, id: u64, index: u64) -> bool {
    r.is_up(id) && r.node(id).snapshot_index() == LogIndex(index)
}

/// The snapshots node `id`'s service was handed, by index.
fn applied_snapshots(r: &Router, id: u64) -> Vec<LogIndex> {
    r.applied[&id]
        .iter()
        .filter_map(|apply| match apply {
            Applied::Snapshot { index, .. } => Some(*index),
            Applied::Entry(_) => None,
        })
        .collect()
}

#[test]
fn every_message_stays_within_the_limit() {
    for (limit, len) in [
        (100, 1000),
        (LIMIT, 4000),
        (LIMIT, 0),
        (1000, 2 * 940),
        (4096, 100),
    ] {
        let data = snapshot_bytes(len, 1);
        let mut r = cluster_sending(limit, data.clone());
        r.propose(1, "after").expect("leader");
        r.tick_all_until(|r| r.node(3).applied_index() == LogIndex(7));
        let chunks = delivered_chunks(&r);
        let (first, last) = (
            chunks.first().expect("a chunk"),
            chunks.last().expect("a chunk"),
        );
        assert_eq!(first.offset(), 0);
        assert!(last.is_done());
        if len > limit {
            assert!(chunks.len() > len / limit, "{} chunks", chunks.len());
        } else {
            assert_eq!(chunks.len(), 1, "a small snapshot goes whole");
        }
        for message in &r.delivered {
            assert!(
                message.encoded_len_bytes() <= limit,
                "limit {limit}: {} bytes in {}",
                message.encoded_len_bytes(),
                message.summary()
            );
        }
        assert_eq!(r.persisted(3).snapshot_data(), &data, "limit {limit}");
        assert_eq!(applied_snapshots(&r, 3), [LogIndex(6)]);
    }
}

#[test]
fn a_lost_chunk_is_sent_again_and_the_transfer_goes_on() {
    let data = snapshot_bytes(3000, 2);
    let mut r = cluster_sending(LIMIT, data.clone());
    let mut lost_at = None;
    let mut distinct_offsets = Vec::new();
    run_until(
        &mut r,
        |m| {
            let Some(chunk) = chunk_of(m) else {
                return true;
            };
            if !distinct_offsets.contains(&chunk.offset()) {
                distinct_offsets.push(chunk.offset());
            }
            if lost_at.is_none() && distinct_offsets.len() == 3 {
                lost_at = Some(chunk.offset());
                return false;
            }
            true
        },
        |r| installed(r, 3, 6),
    );
    let lost_at = lost_at.expect("a chunk was lost");
    let chunks = delivered_chunks(&r);
    assert!(chunks.iter().any(|c| c.offset() == lost_at), "sent again");
    assert_eq!(
        chunks.iter().filter(|c| c.offset() == 0).count(),
        1,
        "the transfer did not start over"
    );
    assert_eq!(r.persisted(3).snapshot_data(), &data);
}

#[test]
fn a_duplicate_chunk_changes_nothing() {
    let data = snapshot_bytes(3000, 3);
    let mut r = cluster_sending(LIMIT, data.clone());
    run_until(&mut r, |_| true, |r| delivered_chunks(r).len() == 3);
    let chunks = delivered_chunks(&r);
    for duplicate in &chunks {
        let copy = message(
            1,
            3,
            r.node(1).term().0,
            Body::InstallSnapshot(duplicate.clone()),
        );
        let actions = r.step(3, Input::Message(copy));
        let sent = sends(&actions);
        let reply = reply_of(sent[0]).expect("answered");
        assert!(reply.is_partial());
        assert_eq!(reply.offset(), duplicate.offset());
        assert_eq!(
            reply.next_offset(),
            chunks[2].offset() + chunks[2].data().len() as u64
        );
        assert!(!actions
            .iter()
            .any(|a| matches!(a, Action::Persist(_) | Action::Apply(_))));
    }
    run_until(&mut r, |_| true, |r| installed(r, 3, 6));
    assert_eq!(r.persisted(3).snapshot_data(), &data);
    assert_eq!(applied_snapshots(&r, 3), [LogIndex(6)], "installed once");
}

/// n3 is receiving snapshot A (index 6) when n1 commits two more entries and snapshots
/// B at 8. Returns the router once a chunk of B reached n3, with the chunks of A that
/// reached it, and A's and B's bytes.
fn transfer_overtaken_by_a_newer_snapshot() -> (Router, Vec<InstallSnapshot>, Bytes, Bytes) {
    let (a, b) = (snapshot_bytes(3000, 4), snapshot_bytes(3500, 5));
    let mut r = cluster_sending(LIMIT, a.clone());
    run_until(&mut r, |_| true, |r| delivered_chunks(r).len() == 2);
    let chunks_of_a = delivered_chunks(&r);
    r.propose(1, "cmd7").expect("leader");
    r.propose(1, "cmd8").expect("leader");
    run_until(
        &mut r,
        |_| true,
        |r| r.node(1).applied_index() == LogIndex(8),
    );
    assert!(!installed(&r, 3, 6), "A is still on its way");
    take_snapshot(&mut r, 1, 8, b.clone());
    run_until(
        &mut r,
        |_| true,
        |r| {
            delivered_chunks(r)
                .iter()
                .any(|c| c.last_included_index() == LogIndex(8))
        },
    );
    (r, chunks_of_a, a, b)
}

#[test]
fn a_leader_whose_snapshot_changes_starts_the_transfer_again() {
    let (mut r, _, _, b) = transfer_overtaken_by_a_newer_snapshot();
    run_until(&mut r, |_| true, |r| installed(r, 3, 8));
    let chunks = delivered_chunks(&r);
    let first_of_b = chunks
        .iter()
        .position(|c| c.last_included_index() == LogIndex(8))
        .expect("B was sent");
    assert_eq!(chunks[first_of_b].offset(), 0, "B starts at offset 0");
    assert!(chunks[first_of_b..]
        .iter()
        .all(|c| c.last_included_index() == LogIndex(8)));
    assert_eq!(r.persisted(3).snapshot_data(), &b);
    assert_eq!(
        applied_snapshots(&r, 3),
        [LogIndex(8)],
        "A was never installed"
    );
}

#[test]
fn chunks_of_an_older_snapshot_after_a_newer_one_began_are_ignored() {
    let (mut r, chunks_of_a, _, b) = transfer_overtaken_by_a_newer_snapshot();
    let term = r.node(1).term().0;
    for old in chunks_of_a {
        let replay = message(1, 3, term, Body::InstallSnapshot(old));
        let actions = r.step(3, Input::Message(replay));
        assert!(actions.is_empty(), "a stale chunk is ignored: {actions:?}");
    }
    run_until(&mut r, |_| true, |r| installed(r, 3, 8));
    assert_eq!(r.persisted(3).snapshot_data(), &b);
    assert_eq!(applied_snapshots(&r, 3), [LogIndex(8)]);
}

#[test]
fn a_follower_crash_mid_transfer_starts_it_again_from_offset_0() {
    let data = snapshot_bytes(3000, 6);
    let mut r = cluster_sending(LIMIT, data.clone());
    run_until(&mut r, |_| true, |r| delivered_chunks(r).len() == 4);
    assert_eq!(
        r.persisted(3).snapshot_index(),
        LogIndex(0),
        "nothing of an incomplete snapshot is durable"
    );
    r.crash(3);
    r.restart(3);
    let before = delivered_chunks(&r).len();
    run_until(&mut r, |_| true, |r| installed(r, 3, 6));
    let after_restart = &delivered_chunks(&r)[before..];
    let restart_at = after_restart
        .iter()
        .position(|c| c.offset() == 0)
        .expect("the transfer started again from offset 0");
    let resumed = &after_restart[restart_at..];
    let offsets: Vec<u64> = resumed.iter().map(InstallSnapshot::offset).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "in order: {offsets:?}"
    );
    assert_eq!(r.persisted(3).snapshot_data(), &data);
    assert_eq!(applied_snapshots(&r, 3), [LogIndex(6)]);
}

#[test]
fn a_malformed_chunk_is_ignored() {
    let mut n = node(2, 3, 2, &[1, 1]);
    let data = Bytes::from_static(b"0123456789");
    let forged = [
        // Past its own total length.
        InstallSnapshot::chunk(LogIndex(5), Term(1), 8, 12, data.clone()),
        // A whole-snapshot message (total 0) at a nonzero offset.
        InstallSnapshot::chunk(LogIndex(5), Term(1), 4, 0, data.clone()),
        // A snapshot ending in a term after the leader's.
        InstallSnapshot::new(LogIndex(5), Term(3), data.clone()),
        // A snapshot of nothing.
        InstallSnapshot::new(LogIndex(0), Term(0), data),
    ];
    for chunk in forged {
        let actions = n.step(Input::Message(message(
            1,
            2,
            2,
            Body::InstallSnapshot(chunk),
        )));
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::Send(_) | Action::Apply(_) | Action::Persist(_))),
            "{actions:?}"
        );
    }
    assert_eq!(n.snapshot_index(), LogIndex(0));
}

/// The chunks of `data`, `size` bytes each (the last one shorter).
fn chunks(index: u64, data: &Bytes, size: usize) -> Vec<InstallSnapshot> {
    let total = data.len() as u64;
    (0..data.len())
        .step_by(size)
        .map(|at| {
            let end = (at + size).min(data.len());
            InstallSnapshot::chunk(
                LogIndex(index),
                Term(1),
                at as u64,
                total,
                data.slice(at..end),
            )
        })
        .collect()
}

/// What `actions` made durable as the snapshot, if anything: (index, bytes).
fn persisted_snapshot(actions: &[Action]) -> Option<(LogIndex, Bytes)> {
    actions.iter().rev().find_map(|action| match action {
        Action::Persist(PersistAction::Snapshot { index, data, .. }) => {
            Some((*index, data.clone()))
        }
        _ => None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(12),
        ..ProptestConfig::with_cases(256)
    })]

    /// Chunks of snapshot A (index 5) and of the newer B (index 7), shuffled, duplicated
    /// and dropped: the follower only ever installs A or B whole and exact, never goes
    /// back from B to A, and B's chunks in order then always leave it holding B.
    #[test]
    fn any_interleaving_of_two_snapshots_installs_only_whole_ones(
        a in proptest::collection::vec(any::<u8>(), 1..300),
        b in proptest::collection::vec(any::<u8>(), 1..300),
        sizes in (1usize..64, 1usize..64),
        picks in proptest::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 0..60),
    ) {
        let (a, b) = (Bytes::from(a), Bytes::from(b));
        let (of_a, of_b) = (chunks(5, &a, sizes.0), chunks(7, &b, sizes.1));
        let mut n = node(2, 3, 2, &[1, 1]);
        let mut holds = LogIndex(0);
        let sequence = picks
            .iter()
            .map(|(from_b, at)| if *from_b { at.get(&of_b) } else { at.get(&of_a) })
            .chain(of_b.iter());
        for chunk in sequence {
            let input = Input::Message(message(1, 2, 2, Body::InstallSnapshot(chunk.clone())));
            let actions = n.step(input);
            prop_assert!(sends(&actions).len() <= 1, "one reply at most");
            if let Some((index, data)) = persisted_snapshot(&actions) {
                let expected = if index == LogIndex(5) { &a } else { &b };
                prop_assert!(index > holds, "never back to an older snapshot");
                prop_assert_eq!(&data, expected);
                holds = index;
            }
        }
        prop_assert_eq!(holds, LogIndex(7));
        prop_assert_eq!(n.snapshot_index(), LogIndex(7));
    }
}
