//! The KV lab in the simulator: the checks every KV run keeps (state agreement across
//! servers, the clients' history), and the KV tester's helpers ([`tester`]).

pub mod agreement;
pub mod history;
pub mod tester;

pub use agreement::KvAgreement;
pub use history::{KvHistory, RecordedOp};
pub use tester::{Ck, KvTester};

/// What a world keeps for the KV checks.
#[derive(Clone, Debug, Default)]
pub struct KvChecks {
    /// Every server that reached an applied index holds the same state there.
    pub agreement: KvAgreement,
    /// Every operation the scenario's clients called, with its times.
    pub history: KvHistory,
}

/// Checks the history for linearizability (temporary: until the checker lands, only the
/// count of operations).
pub fn check_linearizable(ops: &[RecordedOp]) -> Result<u64, String> {
    Ok(ops.len() as u64)
}
