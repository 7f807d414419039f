//! The scenario catalog: every test of the lab, by stable id, with its part and servers,
//! and our own scenarios beyond the lab (part X).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::tester::{TestResult, Tester};

mod kv_generic;
mod kv_large;
mod part2a;
mod part2b;
mod part2c;
mod part2d;
mod part3a;
mod part3b;
mod partx;

/// A lab part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// Leader election.
    A2,
    /// Log replication.
    B2,
    /// Persistence.
    C2,
    /// Log compaction.
    D2,
    /// The KV service.
    A3,
    /// The KV service with snapshots.
    B3,
    /// Our own scenarios beyond the lab: CheckQuorum, stale reads, leadership transfer
    /// (Raft and KV scenarios both).
    X,
}

impl Part {
    /// Every part, in order.
    pub const ALL: [Part; 7] = [
        Part::A2,
        Part::B2,
        Part::C2,
        Part::D2,
        Part::A3,
        Part::B3,
        Part::X,
    ];

    /// Whether every scenario of this part runs the KV service (part X mixes both: see
    /// each scenario's `kv`).
    pub fn is_kv(self) -> bool {
        matches!(self, Part::A3 | Part::B3)
    }

    /// Parses `2a`, `2B`, ..., `x`.
    pub fn parse(text: &str) -> Option<Part> {
        Part::ALL
            .into_iter()
            .find(|part| part.to_string().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Part::A2 => "2A",
            Part::B2 => "2B",
            Part::C2 => "2C",
            Part::D2 => "2D",
            Part::A3 => "3A",
            Part::B3 => "3B",
            Part::X => "X",
        })
    }
}

/// A scenario body: the test itself, over a started and connected cluster.
pub type Body = fn(Tester) -> Pin<Box<dyn Future<Output = TestResult>>>;

/// One scenario of the catalog.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// Stable id, e.g. `figure8-unreliable`.
    pub id: &'static str,
    /// The lab part.
    pub part: Part,
    /// The lab's title.
    pub title: &'static str,
    /// Cluster sizes it runs with (one run per size, in order).
    pub servers: &'static [usize],
    /// Whether the network starts unreliable.
    pub unreliable: bool,
    /// Whether the tester uses the snapshot applier.
    pub snapshots: bool,
    /// KV servers instead of bare Raft nodes, and their `max_raft_state`.
    pub kv: Option<KvSetup>,
    /// The test.
    pub body: Body,
}

impl Scenario {
    /// A scenario on a reliable network with the plain applier.
    pub fn new(
        id: &'static str,
        part: Part,
        title: &'static str,
        servers: &'static [usize],
        body: Body,
    ) -> Scenario {
        Scenario {
            id,
            part,
            title,
            servers,
            unreliable: false,
            snapshots: false,
            kv: None,
            body,
        }
    }

    /// The same scenario, with the network starting unreliable (or not).
    #[must_use]
    pub fn unreliable(mut self, unreliable: bool) -> Scenario {
        self.unreliable = unreliable;
        self
    }

    /// The same scenario, with the snapshot applier.
    #[must_use]
    pub fn with_snapshots(mut self) -> Scenario {
        self.snapshots = true;
        self
    }

    /// The same scenario on KV servers that snapshot at `max_raft_state` (or never).
    #[must_use]
    pub fn kv(mut self, max_raft_state: Option<usize>) -> Scenario {
        self.kv = Some(KvSetup {
            max_raft_state,
            read_mode: kv_core::ReadMode::ReadIndex,
            #[cfg(feature = "test-hooks")]
            local_reads_bug: false,
        });
        self
    }

    /// The same scenario with its KV servers serving Gets in `mode` (no change for a Raft
    /// scenario).
    #[must_use]
    pub fn with_read_mode(mut self, mode: kv_core::ReadMode) -> Scenario {
        if let Some(kv) = &mut self.kv {
            kv.read_mode = mode;
        }
        self
    }
}

/// How a KV scenario's servers are configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvSetup {
    /// Snapshot when the persisted raft state nears this many bytes (the lab's
    /// maxraftstate), or never.
    pub max_raft_state: Option<usize>,
    /// How Gets are served (ReadIndex unless the run asks for the lab's log reads).
    pub read_mode: kv_core::ReadMode,
    /// TEST ONLY: leaders answer Gets locally without confirming leadership (kv-core's
    /// `local_reads_bug`), so a test can show the linearizability checker catches it.
    #[cfg(feature = "test-hooks")]
    pub local_reads_bug: bool,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("id", &self.id)
            .field("part", &self.part)
            .finish_non_exhaustive()
    }
}

/// Every scenario, in lab order, then part X.
pub fn catalog() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(part2a::scenarios());
    all.extend(part2b::scenarios());
    all.extend(part2c::scenarios());
    all.extend(part2d::scenarios());
    all.extend(part3a::scenarios());
    all.extend(part3b::scenarios());
    all.push(kv_large::scenario());
    all.extend(partx::scenarios());
    all
}

/// The scenario with this id.
pub fn find(id: &str) -> Option<Scenario> {
    catalog().into_iter().find(|s| s.id == id)
}

/// Boxes an async scenario function into a [`Body`]-compatible future.
macro_rules! body {
    ($f:path) => {{
        fn boxed(
            t: $crate::tester::Tester,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = $crate::tester::TestResult>>>
        {
            Box::pin($f(t))
        }
        boxed as $crate::scenarios::Body
    }};
}
pub(crate) use body;
