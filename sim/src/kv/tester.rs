//! The KV lab tester's helpers in simulated time (lab-reference §2): clerks made, linked
//! and deleted; Get/Put/Append wrappers that record the history; `check`; server
//! partitions, the partitioner, `make_partition`; StartServer and ShutdownServer; LogSize
//! and SnapshotSize; and, beyond the lab, leadership transfer. Scenario code reads like
//! the Go test it reproduces.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use kv_core::{Completion, Op};

use crate::tester::{TestResult, Tester};
use crate::{ensure, fail};

/// A clerk of the scenario (its position in the world).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ck(pub usize);

/// The KV tester: the Raft tester's clock, tasks and randomness, plus the KV helpers.
#[derive(Clone)]
pub struct KvTester {
    t: Tester,
}

impl KvTester {
    /// The KV tester over the same world as `t`.
    pub fn new(t: Tester) -> KvTester {
        KvTester { t }
    }

    /// The underlying tester (sleep, spawn, rand, now).
    pub fn t(&self) -> &Tester {
        &self.t
    }

    /// The number of servers.
    pub fn n(&self) -> usize {
        self.t.n()
    }

    /// Every server.
    pub fn all(&self) -> Vec<usize> {
        (0..self.n()).collect()
    }

    /// The lab's makeClient(to).
    pub fn make_client(&self, to: &[usize]) -> Ck {
        Ck(self.t.world_mut().add_client(to))
    }

    /// The lab's deleteClient.
    pub fn delete_client(&self, ck: Ck) {
        self.t.world_mut().remove_client(ck.0);
    }

    /// The lab's ConnectClient(ck, to): enables the clerk's links to `to`.
    pub fn connect_client(&self, ck: Ck, to: &[usize]) {
        let mut world = self.t.world_mut();
        for &s in to {
            world.set_client_link(ck.0, s, true);
        }
    }

    /// The lab's DisconnectClient(ck, from).
    pub fn disconnect_client(&self, ck: Ck, from: &[usize]) {
        let mut world = self.t.world_mut();
        for &s in from {
            world.set_client_link(ck.0, s, false);
        }
    }

    /// Calls `op` on `ck`, records it in the history, and returns what it read (`""` for
    /// Put and Append). Never gives up, as the lab's clerk.
    pub async fn call(&self, ck: Ck, op: Op) -> TestResult<String> {
        let handle = {
            let mut world = self.t.world_mut();
            let now = world.now();
            let handle = world.kv.history.begin(ck.0, op.clone(), now);
            world.client_call(ck.0, op);
            handle
        };
        let completion = Call {
            tester: self.t.clone(),
            ck,
        }
        .await;
        let output = match completion.result {
            Ok(value) => value.unwrap_or_default(),
            Err(refusal) => fail!("clerk {} was refused: {refusal}", ck.0),
        };
        let mut world = self.t.world_mut();
        let now = world.now();
        world.kv.history.finish(handle, output.clone(), now);
        Ok(output)
    }

    /// The lab's Get wrapper.
    pub async fn get(&self, ck: Ck, key: &str) -> TestResult<String> {
        self.call(ck, Op::Get { key: key.into() }).await
    }

    /// The lab's Put wrapper.
    pub async fn put(&self, ck: Ck, key: &str, value: &str) -> TestResult {
        let op = Op::Put {
            key: key.into(),
            value: value.into(),
        };
        self.call(ck, op).await.map(drop)
    }

    /// The lab's Append wrapper.
    pub async fn append(&self, ck: Ck, key: &str, value: &str) -> TestResult {
        let op = Op::Append {
            key: key.into(),
            value: value.into(),
        };
        self.call(ck, op).await.map(drop)
    }

    /// The lab's check: a Get whose value must be `want`.
    pub async fn check(&self, ck: Ck, key: &str, want: &str) -> TestResult {
        let value = self.get(ck, key).await?;
        ensure!(
            value == want,
            "Get({key}) -> {}, expected {}",
            crate::applier::show(value.as_bytes()),
            crate::applier::show(want.as_bytes())
        );
        Ok(())
    }

    /// The lab's partition(p1, p2): servers in each group talk only among themselves;
    /// clerks' links are untouched.
    pub fn partition(&self, p1: &[usize], p2: &[usize]) {
        let mut world = self.t.world_mut();
        world.net.partition(&[p1.to_vec(), p2.to_vec()]);
        let now = world.now();
        world.trace.mix(&[now, 24]);
        world
            .trace
            .line(|| format!("{now:>8} partition {p1:?} | {p2:?}"));
    }

    /// The lab's ConnectAll: every running server attached, no partition.
    pub fn connect_all(&self) {
        self.t.world_mut().net.heal();
        for i in 0..self.n() {
            if self.t.is_alive(i) {
                self.t.connect(i);
            }
        }
    }

    /// The lab's Leader(): the first server whose Raft node leads.
    pub fn leader(&self) -> Option<usize> {
        (0..self.n()).find(|&i| self.t.get_state(i).is_some_and(|(_, leads)| leads))
    }

    /// Asks server `from` to hand its leadership to server `to` (kv-core's
    /// `TransferLeadership`); returns whether the transfer is under way.
    pub fn transfer_leadership(&self, from: usize, to: usize) -> bool {
        let target = raft_core::NodeId(to as u64 + 1);
        let mut world = self.t.world_mut();
        let now = world.now();
        world
            .trace
            .line(|| format!("{now:>8} transfer s{from} -> s{to}"));
        world.step(from, raft_core::Input::TransferLeadership { target });
        world
            .node(from)
            .is_some_and(|node| node.transfer_target() == Some(target))
    }

    /// The lab's make_partition: the first n/2+1 non-leaders, and the rest with the
    /// leader (so the leader is always in the minority).
    pub fn make_partition(&self) -> (Vec<usize>, Vec<usize>) {
        let leader = self.leader().unwrap_or(0);
        let others: Vec<usize> = (0..self.n()).filter(|&i| i != leader).collect();
        let split = self.n() / 2 + 1;
        let p1 = others[..split.min(others.len())].to_vec();
        let mut p2 = others[split.min(others.len())..].to_vec();
        p2.push(leader);
        (p1, p2)
    }

    /// The lab's partitioner (the Go variant): until `done`, put each server in one of
    /// two groups by a coin flip, then sleep 1000–1199 ms. It does not heal on exit.
    pub async fn partitioner(&self, done: Rc<Cell<bool>>) {
        while !done.get() {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for i in 0..self.n() {
                if self.t.rand(2) == 0 {
                    a.push(i);
                } else {
                    b.push(i);
                }
            }
            self.partition(&a, &b);
            self.t.sleep(1000 + self.t.rand(200)).await;
        }
    }

    /// The lab's ShutdownServer: the server stops (volatile state lost, its pending
    /// replies dropped); its persister is kept.
    pub fn shutdown_server(&self, i: usize) {
        self.t.crash1(i);
    }

    /// The lab's StartServer: restarts from the persister, not yet connected.
    pub fn start_server(&self, i: usize) {
        self.t.start1(i);
    }

    /// The lab's LogSize: the largest persisted raft state.
    pub fn log_size(&self) -> usize {
        self.t.log_size()
    }

    /// The lab's SnapshotSize: the largest persisted snapshot.
    pub fn snapshot_size(&self) -> usize {
        let world = self.t.world();
        (0..world.servers())
            .map(|i| world.persister(i).snapshot_data().len())
            .max()
            .unwrap_or(0)
    }
}

/// A call in flight: ready when its clerk finishes it.
struct Call {
    tester: Tester,
    ck: Ck,
}

impl Future for Call {
    type Output = Completion;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion> {
        let mut world = self.tester.world_mut();
        match world.poll_completion(self.ck.0, cx.waker()) {
            Some(completion) => Poll::Ready(completion),
            None => Poll::Pending,
        }
    }
}
