//! A tiny single-threaded executor for scenario tasks, driven by simulated time.
//!
//! Tasks are polled in the order they became ready (a FIFO), so interleavings depend
//! only on the seed. A task waits on simulated time through the world's event queue.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

/// A boxed scenario task.
pub type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Ok(mut ready) = self.ready.lock() {
            ready.push_back(self.id);
        }
    }
}

/// Where tasks spawn new tasks; cloned into every handle that can spawn.
#[derive(Clone, Default)]
pub struct Spawner {
    pending: Rc<RefCell<Vec<LocalFuture>>>,
}

impl Spawner {
    /// Queues a task; it runs from the next executor pass on.
    pub fn spawn(&self, task: LocalFuture) {
        self.pending.borrow_mut().push(task);
    }
}

/// The executor.
#[derive(Default)]
pub struct Executor {
    tasks: Vec<Option<LocalFuture>>,
    wakers: Vec<Waker>,
    ready: Arc<Mutex<VecDeque<usize>>>,
    spawner: Spawner,
}

impl Executor {
    /// An executor with no tasks.
    pub fn new() -> Executor {
        Executor::default()
    }

    /// The handle tasks use to spawn more tasks.
    pub fn spawner(&self) -> Spawner {
        self.spawner.clone()
    }

    fn adopt_spawned(&mut self) {
        let spawned: Vec<LocalFuture> = self.spawner.pending.borrow_mut().drain(..).collect();
        for task in spawned {
            let id = self.tasks.len();
            self.tasks.push(Some(task));
            self.wakers.push(Waker::from(Arc::new(TaskWaker {
                id,
                ready: Arc::clone(&self.ready),
            })));
            self.push_ready(id);
        }
    }

    fn push_ready(&self, id: usize) {
        if let Ok(mut ready) = self.ready.lock() {
            ready.push_back(id);
        }
    }

    fn pop_ready(&self) -> Option<usize> {
        self.ready.lock().ok()?.pop_front()
    }

    /// Polls ready tasks until none is ready.
    pub fn run_ready(&mut self) {
        loop {
            self.adopt_spawned();
            let Some(id) = self.pop_ready() else {
                return;
            };
            let Some(task) = self.tasks[id].as_mut() else {
                continue;
            };
            let mut context = Context::from_waker(&self.wakers[id]);
            if task.as_mut().poll(&mut context).is_ready() {
                self.tasks[id] = None;
            }
        }
    }
}
