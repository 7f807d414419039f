//! The clerk's promises, driven by hand: the same (client, seq) on every retry, leader
//! hints followed, the next server after a WrongLeader or a timeout, a pause after a
//! fruitless round, stale and foreign replies ignored, refusals ending the call, calls in
//! order, never giving up.

use kv_core::{
    Clerk, ClerkAction, ClerkConfig, ClerkConfigError, ClerkInput, ClientId, Completion, Op,
    OpKind, Outcome, Refusal, Reply, Request, Seq,
};
use raft_core::NodeId;

const ME: ClientId = ClientId(42);
const TIMEOUT: u32 = 5;

fn servers() -> Vec<NodeId> {
    vec![NodeId(3), NodeId(1), NodeId(2)]
}

fn clerk() -> Clerk {
    let config = ClerkConfig::builder(ME, servers())
        .retry_timeout_ticks(TIMEOUT)
        .build()
        .unwrap();
    Clerk::new(config)
}

fn put(value: &str) -> Op {
    Op::Put {
        key: "k".into(),
        value: value.into(),
    }
}

/// The single send among `actions`: (server, seq).
fn sent(actions: &[ClerkAction]) -> (NodeId, Seq) {
    let sends: Vec<(NodeId, Seq)> = actions
        .iter()
        .filter_map(|action| match action {
            ClerkAction::Send { to, request } => {
                assert_eq!(request.client, ME);
                Some((*to, request.seq))
            }
            ClerkAction::Done(_) => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "one send expected: {actions:?}");
    sends[0]
}

fn done(actions: &[ClerkAction]) -> Vec<Completion> {
    actions
        .iter()
        .filter_map(|action| match action {
            ClerkAction::Done(completion) => Some(completion.clone()),
            ClerkAction::Send { .. } => None,
        })
        .collect()
}

fn reply(from: u64, seq: u64, outcome: Outcome) -> ClerkInput {
    ClerkInput::Reply {
        from: NodeId(from),
        reply: Reply {
            client: ME,
            seq: Seq(seq),
            outcome,
        },
    }
}

fn wrong_leader(from: u64, seq: u64, hint: Option<u64>) -> ClerkInput {
    reply(
        from,
        seq,
        Outcome::WrongLeader {
            leader_hint: hint.map(NodeId),
        },
    )
}

fn ok(from: u64, seq: u64, value: &str) -> ClerkInput {
    reply(
        from,
        seq,
        Outcome::Ok {
            value: value.into(),
        },
    )
}

fn tick(clerk: &mut Clerk, ticks: u32) -> Vec<ClerkAction> {
    (0..ticks)
        .flat_map(|_| clerk.step(ClerkInput::Tick))
        .collect()
}

#[test]
fn a_timeout_moves_on_to_the_next_server_with_the_same_seq() {
    let mut clerk = clerk();
    assert_eq!(
        sent(&clerk.step(ClerkInput::Call(put("a")))),
        (NodeId(3), Seq(1))
    );
    assert!(
        tick(&mut clerk, TIMEOUT - 1).is_empty(),
        "no resend before the timeout"
    );
    assert_eq!(sent(&tick(&mut clerk, 1)), (NodeId(1), Seq(1)));
    assert_eq!(sent(&tick(&mut clerk, TIMEOUT)), (NodeId(2), Seq(1)));
    assert_eq!(
        sent(&tick(&mut clerk, TIMEOUT)),
        (NodeId(3), Seq(1)),
        "wraps around"
    );
}

#[test]
fn wrong_leader_follows_the_hint_or_moves_on_at_once() {
    let mut clerk = clerk();
    clerk.step(ClerkInput::Call(put("a")));
    assert_eq!(
        sent(&clerk.step(wrong_leader(3, 1, Some(2)))),
        (NodeId(2), Seq(1))
    );
    assert_eq!(
        sent(&clerk.step(wrong_leader(2, 1, None))),
        (NodeId(3), Seq(1))
    );
    // A hint naming an unknown server, or the sender itself, counts as no hint.
    assert_eq!(
        sent(&clerk.step(wrong_leader(3, 1, Some(9)))),
        (NodeId(1), Seq(1))
    );
    assert_eq!(clerk.target(), Some(NodeId(1)));
}

#[test]
fn after_a_fruitless_round_the_clerk_waits_for_the_timeout() {
    let mut clerk = clerk();
    clerk.step(ClerkInput::Call(put("a")));
    // Three servers, three WrongLeaders without hints: three immediate hops.
    for from in [3, 1, 2] {
        let actions = clerk.step(wrong_leader(from, 1, None));
        assert_eq!(actions.len(), 1, "an immediate hop");
    }
    assert!(
        clerk.step(wrong_leader(3, 1, None)).is_empty(),
        "the fourth one waits"
    );
    assert!(tick(&mut clerk, TIMEOUT - 1).is_empty());
    // Then it sends to the server the last answer pointed to, and may hop again.
    assert_eq!(sent(&tick(&mut clerk, 1)), (NodeId(1), Seq(1)));
    assert_eq!(
        sent(&clerk.step(wrong_leader(1, 1, None))),
        (NodeId(2), Seq(1))
    );
}

#[test]
fn ok_ends_the_call_and_the_next_call_goes_to_that_server() {
    let mut clerk = clerk();
    clerk.step(ClerkInput::Call(put("a")));
    clerk.step(wrong_leader(3, 1, Some(2)));
    let actions = clerk.step(ok(2, 1, ""));
    assert_eq!(
        done(&actions),
        vec![Completion {
            seq: Seq(1),
            kind: OpKind::Put,
            result: Ok(None)
        }]
    );
    assert_eq!(clerk.leader_guess(), NodeId(2));
    assert_eq!(clerk.in_flight(), None);
    let actions = clerk.step(ClerkInput::Call(Op::Get { key: "k".into() }));
    assert_eq!(sent(&actions), (NodeId(2), Seq(2)));
    let actions = clerk.step(ok(2, 2, "a"));
    assert_eq!(done(&actions)[0].result, Ok(Some("a".to_string())));
}

#[test]
fn stale_and_foreign_replies_are_ignored() {
    let mut clerk = clerk();
    // No call in flight.
    assert!(clerk.step(ok(3, 1, "")).is_empty());
    clerk.step(ClerkInput::Call(put("a")));
    clerk.step(ok(3, 1, ""));
    clerk.step(ClerkInput::Call(put("b")));
    assert_eq!(clerk.in_flight(), Some(Seq(2)));
    // A late answer to call 1, a future seq, another client's answer.
    assert!(clerk.step(ok(3, 1, "")).is_empty());
    assert!(clerk.step(ok(3, 3, "")).is_empty());
    let foreign = ClerkInput::Reply {
        from: NodeId(3),
        reply: Reply {
            client: ClientId(7),
            seq: Seq(2),
            outcome: Outcome::Ok {
                value: String::new(),
            },
        },
    };
    assert!(clerk.step(foreign).is_empty());
    // Advice from a server the current attempt did not go to.
    assert!(clerk.step(wrong_leader(2, 2, Some(1))).is_empty());
    assert_eq!(clerk.in_flight(), Some(Seq(2)));
    assert_eq!(clerk.target(), Some(NodeId(3)));
    // An Ok from any server ends the call: the operation took effect.
    assert_eq!(done(&clerk.step(ok(1, 2, ""))).len(), 1);
}

#[test]
fn a_refusal_ends_the_call_with_an_error() {
    let mut clerk = clerk();
    clerk.step(ClerkInput::Call(put("a")));
    let refusal = Refusal::ValueTooLarge { bytes: 9, max: 8 };
    let actions = clerk.step(reply(3, 1, Outcome::Refused(refusal)));
    assert_eq!(done(&actions)[0].result, Err(refusal));
    assert_eq!(clerk.in_flight(), None);
}

#[test]
fn calls_wait_their_turn_and_get_increasing_seqs() {
    let mut clerk = clerk();
    assert_eq!(sent(&clerk.step(ClerkInput::Call(put("a")))).1, Seq(1));
    assert!(
        clerk.step(ClerkInput::Call(put("b"))).is_empty(),
        "one call at a time"
    );
    assert_eq!(clerk.queued(), 1);
    let actions = clerk.step(ok(3, 1, ""));
    assert_eq!(done(&actions).len(), 1);
    assert_eq!(
        sent(&actions),
        (NodeId(3), Seq(2)),
        "the next call starts at once"
    );
    let request: Vec<Request> = actions
        .into_iter()
        .filter_map(|action| match action {
            ClerkAction::Send { request, .. } => Some(request),
            ClerkAction::Done(_) => None,
        })
        .collect();
    assert_eq!(request[0].op, put("b"));
}

#[test]
fn the_clerk_never_gives_up() {
    let mut clerk = clerk();
    clerk.step(ClerkInput::Call(put("a")));
    let actions = tick(&mut clerk, 100_000);
    let sends = actions.len();
    assert_eq!(
        sends,
        (100_000 / TIMEOUT) as usize,
        "one attempt per timeout, forever"
    );
    for server in servers() {
        let to_server = actions
            .iter()
            .filter(|action| matches!(action, ClerkAction::Send { to, .. } if *to == server))
            .count();
        assert!(to_server * 3 >= sends - 3, "every server is tried in turn");
    }
    assert_eq!(clerk.in_flight(), Some(Seq(1)));
}

#[test]
fn bad_clerk_configurations_are_refused() {
    assert_eq!(
        ClerkConfig::builder(ME, []).build(),
        Err(ClerkConfigError::NoServers)
    );
    assert_eq!(
        ClerkConfig::builder(ME, [NodeId(1), NodeId(2), NodeId(1)]).build(),
        Err(ClerkConfigError::DuplicateServer(NodeId(1)))
    );
    assert_eq!(
        ClerkConfig::builder(ME, [NodeId(1)])
            .retry_timeout_ticks(0)
            .build(),
        Err(ClerkConfigError::ZeroTimeout)
    );
}
