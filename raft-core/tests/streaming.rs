//! The leader's sending rule for followers in Replicate mode: a lone proposal goes out
//! at once; proposals that come while `MAX_APPENDS_IN_FLIGHT` AppendEntries are
//! unanswered wait and go out merged with the next answer. The router checks on every
//! step that what a message carries is already durable on its sender (persist before
//! send).

mod router;

use raft_core::{Action, Body, Input, Message, MAX_APPENDS_IN_FLIGHT};
use router::build::{append_of, position_of, sends};
use router::Router;

/// A 3-node cluster whose node 1 leads, with both followers in Replicate mode (the
/// election's round answered) and nothing in flight.
fn quiet_leader(router: &mut Router) {
    router.elect(1);
    router.deliver_all();
    assert!(router.queue().is_empty());
}

/// The AppendEntries with entries among `messages`, as (to, first, last) indexes.
fn appends_with_entries<'a>(
    messages: impl IntoIterator<Item = &'a Message>,
) -> Vec<(u64, u64, u64)> {
    messages
        .into_iter()
        .filter_map(|message| match message.body() {
            Some(Body::AppendEntries(append)) => {
                let first = append.entries().first()?.index().0;
                let last = append.entries().last()?.index().0;
                Some((message.to().0, first, last))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_lone_proposal_on_a_quiet_leader_goes_out_in_the_same_step() {
    let mut router = Router::new(3);
    quiet_leader(&mut router);
    let actions = router.step(1, Input::Propose("x".into()));
    let appends = appends_with_entries(sends(&actions));
    assert_eq!(
        appends.len(),
        2,
        "one AppendEntries per follower: {actions:?}"
    );
    let persisted =
        position_of(&actions, |a| matches!(a, Action::Persist(_))).expect("the entry is persisted");
    let first_send = position_of(&actions, |a| matches!(a, Action::Send(_))).expect("sent");
    assert!(
        persisted < first_send,
        "persist precedes the send: {actions:?}"
    );
    router.deliver_all();
    assert_eq!(router.node(1).commit_index().0, appends[0].2);
}

#[test]
fn many_proposals_in_a_row_send_at_most_the_cap_per_follower_and_round_trip() {
    let mut router = Router::new(3);
    quiet_leader(&mut router);
    let last_before = router.node(1).last_log_index().0;
    let before = router.delivered.len();
    let cap = MAX_APPENDS_IN_FLIGHT as u64;
    let mut sent = Vec::new();
    for k in 0..100u64 {
        let actions = router.step(1, Input::Propose(k.to_le_bytes().to_vec().into()));
        sent.extend(appends_with_entries(sends(&actions)));
    }
    let singles: Vec<(u64, u64, u64)> = (1..=cap)
        .flat_map(|k| [2, 3].map(|to| (to, last_before + k, last_before + k)))
        .collect();
    assert_eq!(
        sent, singles,
        "the first proposals go out alone; the rest wait for an answer"
    );
    // The followers answer; the first answer lets every waiting entry out in one message.
    router.deliver_all();
    let delivered = appends_with_entries(&router.delivered[before..]);
    let merged = [2, 3].map(|to| (to, last_before + cap + 1, last_before + 100));
    assert_eq!(delivered.len(), singles.len() + 2, "{delivered:?}");
    for append in merged {
        assert!(delivered.contains(&append), "{append:?} in {delivered:?}");
    }
    assert_eq!(router.node(1).commit_index().0, last_before + 100);
    for follower in [2, 3] {
        assert_eq!(router.node(follower).last_log_index().0, last_before + 100);
    }
}

#[test]
fn a_silent_follower_gets_at_most_the_cap_of_unanswered_appends() {
    // A budget of a few entries per message: 64-byte commands fill one quickly.
    let mut router = Router::with_builder(3, |b| b.max_message_bytes(400));
    quiet_leader(&mut router);
    router.cut(1, 3);
    let mut to_3 = 0;
    for k in 0..200u64 {
        let actions = router.step(1, Input::Propose(vec![k as u8; 64].into()));
        to_3 += appends_with_entries(sends(&actions))
            .iter()
            .filter(|(to, _, _)| *to == 3)
            .count();
    }
    assert_eq!(to_3, MAX_APPENDS_IN_FLIGHT);
    // Node 2 answers all along, so the entries commit; every message kept its budget.
    router.deliver_all();
    assert_eq!(
        router.node(1).commit_index(),
        router.node(1).last_log_index()
    );
    for message in &router.delivered {
        if let Some(Body::AppendEntries(_)) = message.body() {
            assert!(
                message.encoded_len_bytes() <= 400,
                "{}",
                message.encoded_len_bytes()
            );
        }
    }
}

#[test]
fn lost_appends_filling_the_cap_are_recovered_by_the_next_heartbeat() {
    let mut router = Router::new(3);
    quiet_leader(&mut router);
    for k in 0..MAX_APPENDS_IN_FLIGHT as u64 {
        router.step(1, Input::Propose(k.to_le_bytes().to_vec().into()));
    }
    let dropped = router.drop_where(|m| m.to().0 == 3 && append_has_entries(m));
    assert_eq!(dropped, MAX_APPENDS_IN_FLIGHT);
    for k in 0..10u64 {
        router.step(1, Input::Propose(k.to_le_bytes().to_vec().into()));
    }
    router.deliver_all();
    let last = router.node(1).last_log_index();
    assert_eq!(
        router.node(1).commit_index(),
        last,
        "node 2 answered all along"
    );
    assert!(router.node(3).last_log_index() < last, "node 3 waits");
    // The heartbeat finds the gap; the probe that follows sends what node 3 lacks.
    router.tick_all_until(|r| r.node(3).last_log_index() == last);
}

#[test]
fn a_lost_append_below_the_cap_is_found_by_the_next_append() {
    let mut router = Router::new(3);
    quiet_leader(&mut router);
    router.step(1, Input::Propose("lost".into()));
    assert_eq!(
        router.drop_where(|m| m.to().0 == 3 && append_has_entries(m)),
        1
    );
    router.step(1, Input::Propose("next".into()));
    router.deliver_all();
    // Node 3 rejected the second append (a gap), and the leader probed back at once.
    let last = router.node(1).last_log_index();
    assert_eq!(router.node(3).last_log_index(), last);
}

fn append_has_entries(message: &Message) -> bool {
    matches!(message.body(), Some(Body::AppendEntries(_)))
        && !append_of(message).entries().is_empty()
}
