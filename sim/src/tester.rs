//! The lab tester's helpers in simulated time: leader and term checks, `one`, `wait`,
//! `n_committed`, crash, start, connect, disconnect, sleep and spawn, with the lab's
//! timeouts and polling intervals. Scenario code reads like the Go test it reproduces.

use std::cell::{Ref, RefCell, RefMut};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::applier::show;
use crate::executor::Spawner;
use crate::rng::Stream;
use crate::world::{Millis, World};

/// A test assertion that did not hold (the lab's `t.Fatalf`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The result of a scenario step.
pub type TestResult<T = ()> = Result<T, Failure>;

/// Fails the scenario with a formatted message.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::tester::Failure(format!($($arg)*)))
    };
}

/// Fails the scenario unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::fail!($($arg)*);
        }
    };
}

/// The lab's election timeout, in ms.
pub const ELECTION_TIMEOUT_MS: Millis = 1000;

/// The handle a scenario drives the cluster with. Cheap to clone into spawned tasks.
#[derive(Clone)]
pub struct Tester {
    world: Rc<RefCell<World>>,
    spawner: Spawner,
    rng: Rc<RefCell<Stream>>,
}

impl Tester {
    /// A tester over `world`, drawing its own choices from `rng`.
    pub fn new(world: Rc<RefCell<World>>, spawner: Spawner, rng: Stream) -> Tester {
        Tester {
            world,
            spawner,
            rng: Rc::new(RefCell::new(rng)),
        }
    }

    /// Read access to the world (never held across an await).
    pub fn world(&self) -> Ref<'_, World> {
        self.world.borrow()
    }

    /// Write access to the world (never held across an await).
    pub fn world_mut(&self) -> RefMut<'_, World> {
        self.world.borrow_mut()
    }

    /// The number of servers.
    pub fn n(&self) -> usize {
        self.world().servers()
    }

    /// The simulated time.
    pub fn now(&self) -> Millis {
        self.world().now()
    }

    /// A value uniform in `0..bound` from the scenario's own stream.
    pub fn rand(&self, bound: u64) -> u64 {
        self.rng.borrow_mut().below(bound)
    }

    /// A random command (the lab's `rand.Int()`), as decimal text.
    pub fn random_command(&self) -> Bytes {
        command(self.rng.borrow_mut().next_u64() >> 1)
    }

    /// Sleeps `ms` of simulated time.
    pub fn sleep(&self, ms: Millis) -> Sleep {
        Sleep {
            world: Rc::clone(&self.world),
            until: self.now() + ms,
            registered: false,
        }
    }

    /// Runs `task` concurrently (the lab's goroutine); await the handle for its result.
    pub fn spawn<T: 'static>(&self, task: impl Future<Output = T> + 'static) -> JoinHandle<T> {
        let state = Rc::new(RefCell::new(JoinState {
            result: None,
            waiter: None,
        }));
        let shared = Rc::clone(&state);
        self.spawner.spawn(Box::pin(async move {
            let result = task.await;
            let waiter = {
                let mut state = shared.borrow_mut();
                state.result = Some(result);
                state.waiter.take()
            };
            if let Some(waiter) = waiter {
                waiter.wake();
            }
        }));
        JoinHandle { state }
    }

    /// Attaches server `i` to the network.
    pub fn connect(&self, i: usize) {
        let mut world = self.world_mut();
        world.net.set_connected(i, true);
        let now = world.now();
        world.trace.line(|| format!("{now:>8} s{i} connect"));
        world.trace.mix(&[now, i as u64, 8]);
    }

    /// Detaches server `i` from the network.
    pub fn disconnect(&self, i: usize) {
        let mut world = self.world_mut();
        world.net.set_connected(i, false);
        let now = world.now();
        world.trace.line(|| format!("{now:>8} s{i} disconnect"));
        world.trace.mix(&[now, i as u64, 9]);
    }

    /// Whether server `i` is attached.
    pub fn is_connected(&self, i: usize) -> bool {
        self.world().net.is_connected(i)
    }

    /// The lab's crash1.
    pub fn crash1(&self, i: usize) {
        self.world_mut().crash(i);
    }

    /// The lab's start1 (a restart from the persister; connect separately).
    pub fn start1(&self, i: usize) {
        self.world_mut().start(i);
    }

    /// Whether server `i` is running.
    pub fn is_alive(&self, i: usize) -> bool {
        self.world().is_alive(i)
    }

    /// Turns loss and short delays on or off.
    pub fn set_unreliable(&self, unreliable: bool) {
        self.world_mut().net.config.unreliable = unreliable;
    }

    /// Turns long reordering of replies on or off.
    pub fn set_long_reordering(&self, on: bool) {
        self.world_mut().net.config.long_reordering = on;
    }

    /// The lab's Start: proposes at server `i`; (index, term) if it leads.
    pub fn start(&self, i: usize, cmd: &Bytes) -> Option<(u64, u64)> {
        self.world_mut().propose(i, cmd.clone())
    }

    /// The lab's GetState: (term, is leader) of a running server.
    pub fn get_state(&self, i: usize) -> Option<(u64, bool)> {
        self.world()
            .node(i)
            .map(|node| (node.term().0, node.is_leader()))
    }

    /// The lab's `rpcs()`: the sum of the per-server incoming counts.
    pub fn rpcs_per_server_sum(&self) -> u64 {
        self.world().stats.rpcs_per_server.iter().sum()
    }

    /// Bytes of requests and replies so far.
    pub fn bytes_total(&self) -> u64 {
        self.world().stats.bytes
    }

    /// The largest persisted raft state among the servers (the lab's LogSize).
    pub fn log_size(&self) -> usize {
        let world = self.world();
        (0..world.servers())
            .map(|i| world.persister(i).raft_state_size())
            .max()
            .unwrap_or(0)
    }

    /// The lab's checkOneLeader: up to 10 rounds of 450–549 ms; fails on two leaders in
    /// a term, or on none at all.
    pub async fn check_one_leader(&self) -> TestResult<usize> {
        for _ in 0..10 {
            let ms = 450 + self.rand(100);
            self.sleep(ms).await;
            let mut leaders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for i in 0..self.n() {
                if self.is_connected(i) {
                    if let Some((term, true)) = self.get_state(i) {
                        leaders.entry(term).or_default().push(i);
                    }
                }
            }
            for (term, ids) in &leaders {
                ensure!(ids.len() <= 1, "term {term} has {} (>1) leaders", ids.len());
            }
            if let Some((_, ids)) = leaders.iter().next_back() {
                return Ok(ids[0]);
            }
        }
        fail!("expected one leader, got none")
    }

    /// The lab's checkTerms: every connected server reports the same term.
    pub fn check_terms(&self) -> TestResult<u64> {
        let mut term = None;
        for i in 0..self.n() {
            if !self.is_connected(i) {
                continue;
            }
            if let Some((t, _)) = self.get_state(i) {
                match term {
                    None => term = Some(t),
                    Some(seen) => ensure!(seen == t, "servers disagree on term"),
                }
            }
        }
        Ok(term.unwrap_or(0))
    }

    /// The lab's checkNoLeader: no connected server claims to lead.
    pub fn check_no_leader(&self) -> TestResult {
        for i in 0..self.n() {
            if self.is_connected(i) && matches!(self.get_state(i), Some((_, true))) {
                fail!("expected no leader among connected servers, but {i} claims to be leader");
            }
        }
        Ok(())
    }

    /// The lab's nCommitted: how many servers applied `index`, and the command.
    pub fn n_committed(&self, index: u64) -> TestResult<(usize, Option<Bytes>)> {
        self.world().applier.n_committed(index).map_err(Failure)
    }

    /// The lab's wait: polls with doubling sleeps (10 ms up to 1280 ms, 30 times) until
    /// `n` servers applied `index`. `None` if some server's term passed `start_term`.
    pub async fn wait(
        &self,
        index: u64,
        n: usize,
        start_term: Option<u64>,
    ) -> TestResult<Option<Bytes>> {
        let mut pause = 10;
        for _ in 0..30 {
            if self.n_committed(index)?.0 >= n {
                break;
            }
            self.sleep(pause).await;
            if pause < 1000 {
                pause *= 2;
            }
            if let Some(start_term) = start_term {
                let moved_on =
                    (0..self.n()).any(|i| self.get_state(i).is_some_and(|(t, _)| t > start_term));
                if moved_on {
                    return Ok(None);
                }
            }
        }
        let (count, value) = self.n_committed(index)?;
        ensure!(
            count >= n,
            "only {count} decided for index {index}; wanted {n}"
        );
        Ok(value)
    }

    /// The lab's one: offers `cmd` to connected servers in turn until one leads, then
    /// waits up to 2 s for `expected` servers to apply it; 10 s overall.
    pub async fn one(&self, cmd: Bytes, expected: usize, retry: bool) -> TestResult<u64> {
        let started = self.now();
        let n = self.n();
        let mut cursor = 0;
        while self.now() - started < 10_000 {
            let mut index = None;
            for _ in 0..n {
                cursor = (cursor + 1) % n;
                if self.is_connected(cursor) {
                    if let Some((i, _)) = self.start(cursor, &cmd) {
                        index = Some(i);
                        break;
                    }
                }
            }
            if let Some(index) = index {
                let offered = self.now();
                while self.now() - offered < 2_000 {
                    let (count, value) = self.n_committed(index)?;
                    if count > 0 && count >= expected && value.as_ref() == Some(&cmd) {
                        return Ok(index);
                    }
                    self.sleep(20).await;
                }
                ensure!(retry, "one({}) failed to reach agreement", show(&cmd));
            } else {
                self.sleep(50).await;
            }
        }
        fail!("one({}) failed to reach agreement", show(&cmd))
    }
}

/// A command from a number, as decimal text (the lab's commands are ints).
pub fn command(value: u64) -> Bytes {
    Bytes::from(value.to_string())
}

/// A sleep in simulated time.
pub struct Sleep {
    world: Rc<RefCell<World>>,
    until: Millis,
    registered: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut world = self.world.borrow_mut();
        if world.now() >= self.until {
            return Poll::Ready(());
        }
        if !self.registered {
            world.wake_at(self.until, cx.waker().clone());
            drop(world);
            self.registered = true;
        }
        Poll::Pending
    }
}

struct JoinState<T> {
    result: Option<T>,
    waiter: Option<Waker>,
}

/// The result of a spawned task, as a future.
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.borrow_mut();
        match state.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                state.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
