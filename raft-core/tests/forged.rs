//! Replies no honest follower sends must not stall replication: a rejection about an
//! index past the leader's log leaves the follower's next index within the log.

use std::collections::VecDeque;

use raft_core::{
    Action, AppendEntriesReply, Body, Config, Input, LogIndex, Message, Node, NodeId, RoleKind,
    Term,
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
