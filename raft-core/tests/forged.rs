//! Replies no honest follower sends must not stall replication: a rejection about an
//! index past the leader's log leaves the follower's next index within the log.

use std::collections::VecDeque;

use raft_core::{
    Action, AppendEntriesReply, Body, Config, Input, LogIndex, Message, Node, NodeId, RequestVote,
    RoleKind, Term,
};

fn cluster() -> (Vec<Node>, VecDeque<Message>) {
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let nodes = ids
        .iter()
        .map(|&id| Node::new(Config::builder(id, ids).seed(id.0).build().unwrap()))
        .collect();
    (nodes, VecDeque::new())
}

fn run(nodes: &mut [Node], queue: &mut VecDeque<Message>, at: usize, input: Input) {
    for action in nodes[at].step(input) {
        if let Action::Send(message) = action {
            queue.push_back(message);
        }
    }
}

fn settle(nodes: &mut [Node], queue: &mut VecDeque<Message>) {
    while let Some(message) = queue.pop_front() {
        let to = (message.to().0 - 1) as usize;
        run(nodes, queue, to, Input::Message(message));
    }
}

#[test]
fn a_rejection_past_the_leaders_log_does_not_stall_the_follower() {
    let (mut nodes, mut queue) = cluster();
    while nodes[0].role() != RoleKind::Leader {
        run(&mut nodes, &mut queue, 0, Input::Tick);
        settle(&mut nodes, &mut queue);
    }
    let forged = Message::new(
        NodeId(2),
        NodeId(1),
        nodes[0].term(),
        Body::AppendEntriesReply(AppendEntriesReply::reject(
            LogIndex(1_000),
            Term::ZERO,
            LogIndex(1_000),
        )),
    );
    run(&mut nodes, &mut queue, 0, Input::Message(forged));
    settle(&mut nodes, &mut queue);
    run(&mut nodes, &mut queue, 0, Input::Propose("x".into()));
    settle(&mut nodes, &mut queue);
    // One heartbeat so followers learn the commit index.
    for _ in 0..nodes[0].config().heartbeat_interval_ticks() {
        run(&mut nodes, &mut queue, 0, Input::Tick);
        settle(&mut nodes, &mut queue);
    }
    assert_eq!(
        nodes[1].last_log_index().0,
        1,
        "node 2 still receives entries"
    );
    assert_eq!(nodes[1].commit_index().0, 1);
    assert_eq!(nodes[0].term(), nodes[1].term());
    assert!(nodes[1].term() > Term::ZERO);
}

/// A follower answers a request of an older term with a rejection that names no index
/// (conflict index 0), in its own term. When that term is the new leader's (the leader
/// sent the request itself, in its previous term), the answer must not be taken as a
/// backup hint: it would send the follower back to index 1 and resend the whole log.
#[test]
fn the_answer_to_a_stale_request_is_no_backup_hint() {
    let (mut nodes, mut queue) = cluster();
    while nodes[0].role() != RoleKind::Leader {
        run(&mut nodes, &mut queue, 0, Input::Tick);
        settle(&mut nodes, &mut queue);
    }
    for command in ["a", "b", "c"] {
        run(&mut nodes, &mut queue, 0, Input::Propose(command.into()));
        settle(&mut nodes, &mut queue);
    }
    // Node 3's RequestVote of a later term (whose answer is lost) makes node 1 step
    // down; node 1 then times out and is elected again with node 3's vote, node 2 cut
    // off: its progress of node 2 starts over, probing.
    let term = nodes[0].term();
    let bid = Message::new(
        NodeId(3),
        NodeId(1),
        term.next(),
        Body::RequestVote(RequestVote::vote(
            nodes[0].last_log_index(),
            nodes[0].last_log_term(),
        )),
    );
    nodes[0].step(Input::Message(bid));
    assert_ne!(nodes[0].role(), RoleKind::Leader);
    while nodes[0].role() != RoleKind::Leader {
        run(&mut nodes, &mut queue, 0, Input::Tick);
        while let Some(message) = queue.pop_front() {
            let to = (message.to().0 - 1) as usize;
            if message.to() != NodeId(2) && message.from() != NodeId(2) {
                run(&mut nodes, &mut queue, to, Input::Message(message));
            }
        }
    }
    let stale_answer = Message::new(
        NodeId(2),
        NodeId(1),
        nodes[0].term(),
        Body::AppendEntriesReply(AppendEntriesReply::reject(
            nodes[0].last_log_index(),
            Term::ZERO,
            LogIndex::ZERO,
        )),
    );
    let sends: Vec<Action> = nodes[0].step(Input::Message(stale_answer));
    let resends_from_start = sends.iter().any(|action| {
        matches!(action, Action::Send(message)
            if matches!(message.body(), Some(Body::AppendEntries(a)) if a.prev_log_index() == LogIndex::ZERO))
    });
    assert!(!resends_from_start, "{sends:?}");
}
