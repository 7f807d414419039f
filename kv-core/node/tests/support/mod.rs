//! The harness of the cluster tests: real `kv-node` and `kv-client` processes on
//! 127.0.0.1 (free ports picked by the OS), data directories and logs in a temporary
//! directory, every wait bounded, every process killed when its guard drops (also when
//! a test fails).

#![allow(dead_code)] // each test file uses a part

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use kv_node::client::status;
use kv_node::clock::Stopwatch;
use kv_node::wire::Status;
use sim::linearizability::{self, Budget, KvInput, KvModel, KvOp, KvOutput, Operation, Verdict};

pub const NODE: &str = env!("CARGO_BIN_EXE_kv-node");
pub const CLIENT: &str = env!("CARGO_BIN_EXE_kv-client");

/// Generous: the machine may be a loaded 2-core CI runner.
pub const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// One cluster test at a time in this binary: three nodes with fsync on already load
/// two cores.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Polls `probe` until it gives a value, or panics after `limit` naming `what`.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let stopwatch = Stopwatch::start();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            stopwatch.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(POLL);
    }
}

/// A child process, killed (SIGKILL) and reaped when dropped.
pub struct Process {
    child: Option<Child>,
    pub stderr: PathBuf,
}

impl Process {
    fn spawn(command: &mut Command, stdout: &Path, stderr: &Path) -> Process {
        let out = fs::File::create(stdout).unwrap();
        let err = fs::File::create(stderr).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        Process {
            child: Some(child),
            stderr: stderr.to_path_buf(),
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, what: &str, limit: Duration) -> ExitStatus {
        wait_for(what, limit, || self.exited())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Ports nobody listens on now, all different, and below the range the OS hands out to
/// outgoing connections: a port taken from that range could be given to some client's
/// connection while its node is down, and the node could not listen there again.
fn free_ports(count: usize) -> Vec<u16> {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = 10_000u16;
    let span = u64::from(ephemeral_low.saturating_sub(low).max(1000));
    let mut held = Vec::new();
    let mut ports = Vec::new();
    let mut attempt = 0u64;
    while ports.len() < count {
        attempt += 1;
        assert!(attempt < 10_000, "no free ports");
        let port = low + (random() % span) as u16;
        if ports.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
            ports.push(port);
        }
    }
    ports
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A cluster of `kv-node` processes with ids 1..=n.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    peer_ports: Vec<u16>,
    client_ports: Vec<u16>,
    max_raft_state: Option<usize>,
    nodes: BTreeMap<u64, Process>,
    starts: BTreeMap<u64, u32>,
    runs: u32,
}

impl Cluster {
    /// Starts `n` nodes.
    pub fn start(n: usize, max_raft_state: Option<usize>) -> Cluster {
        let ports = free_ports(2 * n);
        let mut cluster = Cluster {
            dir: tempfile::tempdir().unwrap(),
            peer_ports: ports[..n].to_vec(),
            client_ports: ports[n..].to_vec(),
            max_raft_state,
            nodes: BTreeMap::new(),
            starts: BTreeMap::new(),
            runs: 0,
        };
        for id in cluster.ids() {
            cluster.start_node(id);
        }
        cluster
    }

    pub fn ids(&self) -> Vec<u64> {
        (1..=self.peer_ports.len() as u64).collect()
    }

    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("n{id}"))
    }

    /// The newest log file of a node.
    pub fn live_log(&self, id: u64) -> PathBuf {
        let mut logs: Vec<PathBuf> = fs::read_dir(self.data_dir(id))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        logs.sort();
        logs.pop().expect("a log file")
    }

    fn peers_flag(&self) -> String {
        let items: Vec<String> = self
            .peer_ports
            .iter()
            .enumerate()
            .map(|(i, port)| format!("{}=127.0.0.1:{port}", i + 1))
            .collect();
        items.join(",")
    }

    pub fn client_address(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.client_ports[id as usize - 1])
    }

    pub fn servers_flag(&self) -> String {
        let items: Vec<String> = self
            .ids()
            .into_iter()
            .map(|id| format!("{id}={}", self.client_address(id)))
            .collect();
        items.join(",")
    }

    /// Starts (or restarts) node `id` on its data directory.
    pub fn start_node(&mut self, id: u64) {
        let process = self.spawn_node(id);
        self.nodes.insert(id, process);
    }

    /// Spawns node `id` without keeping it as a cluster member (to watch it fail).
    pub fn spawn_node(&mut self, id: u64) -> Process {
        self.spawn_node_with(id, &[])
    }

    /// Spawns node `id` with extra flags, without keeping it as a cluster member.
    pub fn spawn_node_with(&mut self, id: u64, extra: &[&str]) -> Process {
        let start = {
            let count = self.starts.entry(id).or_insert(0);
            *count += 1;
            *count
        };
        let name = |extension: &str| self.dir.path().join(format!("n{id}.{start}.{extension}"));
        let mut command = Command::new(NODE);
        command
            .arg("--id")
            .arg(id.to_string())
            .arg("--peers")
            .arg(self.peers_flag())
            .arg("--client-addr")
            .arg(self.client_address(id))
            .arg("--data-dir")
            .arg(self.data_dir(id));
        if let Some(max) = self.max_raft_state {
            command.arg("--max-raft-state").arg(max.to_string());
        }
        command.args(extra);
        Process::spawn(&mut command, &name("out"), &name("err"))
    }

    /// SIGKILLs node `id`.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut process) = self.nodes.remove(&id) {
            process.kill();
        }
    }

    /// Everything node `id` wrote on stderr, over all its starts.
    pub fn node_log(&self, id: u64) -> String {
        let starts = self.starts.get(&id).copied().unwrap_or(0);
        (1..=starts)
            .map(|start| {
                let path = self.dir.path().join(format!("n{id}.{start}.err"));
                fs::read_to_string(path).unwrap_or_default()
            })
            .collect()
    }

    pub fn status(&self, id: u64) -> Option<Status> {
        status(&self.client_address(id), Duration::from_secs(2)).ok()
    }

    /// Waits until one of `among` leads and the others that answer agree.
    pub fn wait_for_leader(&self, among: &[u64]) -> u64 {
        wait_for("a leader", WAIT, || {
            let statuses: Vec<Status> = among.iter().filter_map(|&id| self.status(id)).collect();
            let leader = statuses.iter().find(|s| s.is_leader())?;
            let agreed = statuses
                .iter()
                .all(|s| s.term == leader.term && s.leader == Some(leader.id));
            agreed.then_some(leader.id.0)
        })
    }

    /// Waits until every node answers with the same applied index and digest, at or
    /// past `index`.
    pub fn wait_for_convergence(&self, index: u64) -> Vec<Status> {
        wait_for("every node at the same applied state", WAIT, || {
            let statuses: Vec<Status> = self
                .ids()
                .iter()
                .filter_map(|&id| self.status(id))
                .collect();
            let first = statuses.first()?;
            let same = statuses.len() == self.ids().len()
                && first.applied_index.0 >= index
                && statuses
                    .iter()
                    .all(|s| (s.applied_index, s.digest) == (first.applied_index, first.digest));
            same.then_some(statuses.clone())
        })
    }

    /// Starts `kv-client load` with `args`, writing its history in the test directory.
    pub fn start_load(&mut self, args: &[&str]) -> Load {
        self.runs += 1;
        let stem = self.dir.path().join(format!("load{}", self.runs));
        let history = stem.with_extension("jsonl");
        let mut command = Command::new(CLIENT);
        command
            .arg("--servers")
            .arg(self.servers_flag())
            .arg("load")
            .arg("--history")
            .arg(&history)
            .args(args);
        let process = Process::spawn(
            &mut command,
            &stem.with_extension("out"),
            &stem.with_extension("err"),
        );
        Load {
            process,
            history,
            stdout: stem.with_extension("out"),
        }
    }

    /// Runs `kv-client get KEY` and returns the value.
    pub fn get(&mut self, key: &str) -> String {
        self.runs += 1;
        let stem = self.dir.path().join(format!("get{}", self.runs));
        let mut command = Command::new(CLIENT);
        command
            .arg("--servers")
            .arg(self.servers_flag())
            .arg("--timeout-secs")
            .arg("30")
            .arg("get")
            .arg(key);
        let out = stem.with_extension("out");
        let mut process = Process::spawn(&mut command, &out, &stem.with_extension("err"));
        let status = process.wait("kv-client get", WAIT);
        assert!(status.success(), "kv-client get {key}: {status}");
        let text = fs::read_to_string(out).unwrap();
        text.strip_suffix('\n').unwrap_or(&text).to_string()
    }
}

/// A running `kv-client load`.
pub struct Load {
    pub process: Process,
    pub history: PathBuf,
    pub stdout: PathBuf,
}

impl Load {
    /// Waits for the load to end and returns its history.
    pub fn finish(mut self) -> History {
        let status = self
            .process
            .wait("the load to finish", Duration::from_secs(180));
        let summary = fs::read_to_string(&self.stdout).unwrap_or_default();
        assert!(
            status.success(),
            "kv-client load failed: {status}\n{summary}"
        );
        println!("{summary}");
        let text = fs::read_to_string(&self.history).unwrap();
        let operations = linearizability::parse_history(&KvModel, &text).unwrap();
        History { operations }
    }

    pub fn running(&mut self) -> bool {
        self.process.exited().is_none()
    }
}

/// A history as the checker reads it.
pub struct History {
    pub operations: Vec<Operation<KvInput, KvOutput>>,
}

impl History {
    pub fn returned(&self) -> usize {
        self.operations
            .iter()
            .filter(|o| o.return_time.is_some())
            .count()
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .operations
            .iter()
            .map(|o| o.input.key.clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Adds reads made after every operation of the history had returned or stopped.
    pub fn add_final_reads(&mut self, values: &BTreeMap<String, String>) {
        let last = self
            .operations
            .iter()
            .map(|o| o.return_time.unwrap_or(o.call))
            .max()
            .unwrap_or(0);
        for (offset, (key, value)) in values.iter().enumerate() {
            let at = last + 1 + 2 * offset as u64;
            let read = Operation::returned(
                u64::MAX,
                KvInput::get(key.clone()),
                KvOutput::new(value.clone()),
                at,
                at + 1,
            );
            self.operations.push(read);
        }
    }

    /// Asserts that the history is linearizable by sim's checker.
    pub fn assert_linearizable(&self) {
        let result = linearizability::check(&KvModel, &self.operations, Budget::DEFAULT, 2)
            .expect("a well-formed history");
        assert_eq!(
            result.verdict,
            Verdict::Ok,
            "not linearizable: {:?}",
            result
                .partitions
                .iter()
                .filter(|p| p.outcome.verdict() != Verdict::Ok)
                .map(|p| &p.name)
                .collect::<Vec<_>>()
        );
    }

    /// Asserts, for a history without puts, that every final value holds each
    /// acknowledged append exactly once, no append twice, and each client's appends in
    /// the order it made them.
    pub fn assert_appends_once_in_order(&self, finals: &BTreeMap<String, String>) {
        assert!(self.operations.iter().all(|o| o.input.op != KvOp::Put));
        for (key, value) in finals {
            let pieces = pieces(value);
            let mut seen = std::collections::BTreeSet::new();
            let mut last_per_client: BTreeMap<u64, u64> = BTreeMap::new();
            for piece in &pieces {
                assert!(seen.insert(piece.clone()), "{key}: {piece:?} appears twice");
                let (client, n) = piece_id(piece);
                if let Some(&before) = last_per_client.get(&client) {
                    assert!(
                        n > before,
                        "{key}: client {client} appended {n} after {before}"
                    );
                }
                last_per_client.insert(client, n);
            }
            let acknowledged = self.operations.iter().filter(|o| {
                o.input.op == KvOp::Append && &o.input.key == key && o.return_time.is_some()
            });
            for append in acknowledged {
                assert!(
                    seen.contains(&append.input.value),
                    "{key}: the acknowledged append {:?} is lost",
                    append.input.value
                );
            }
        }
    }
}

/// The pieces `[c<client>.<n>...]` of a value made of appends.
fn pieces(value: &str) -> Vec<String> {
    value
        .split_inclusive(']')
        .map(str::to_string)
        .filter(|piece| !piece.is_empty())
        .collect()
}

fn piece_id(piece: &str) -> (u64, u64) {
    let body = piece
        .strip_prefix("[c")
        .unwrap_or_else(|| panic!("{piece:?} is not an append of the load"));
    let mut parts = body.split('.');
    let client = parts.next().and_then(|p| p.parse().ok());
    let n = parts
        .next()
        .and_then(|p| p.trim_end_matches(']').parse().ok());
    match (client, n) {
        (Some(client), Some(n)) => (client, n),
        _ => panic!("{piece:?} is not an append of the load"),
    }
}

/// Reads the final value of every key through `kv-client get`.
pub fn final_values(cluster: &mut Cluster, keys: &[String]) -> BTreeMap<String, String> {
    keys.iter()
        .map(|key| (key.clone(), cluster.get(key)))
        .collect()
}

/// The total size of the files in `dir` (files that vanish while listed count 0).
pub fn dir_bytes(dir: &Path) -> (u64, u64) {
    let mut total = 0;
    let mut snapshots = 0;
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            total += size;
            if entry.file_name().to_string_lossy().starts_with("snap-") {
                snapshots = snapshots.max(size);
            }
        }
    }
    (total, snapshots)
}
