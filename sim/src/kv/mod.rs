//! The KV lab in the simulator: the checks every KV run keeps (state agreement across
//! servers, the clients' history), and the KV tester's helpers ([`tester`]).

pub mod agreement;
pub mod history;
pub mod linearizable;
pub mod tester;

pub use agreement::KvAgreement;
pub use history::{KvHistory, RecordedOp};
pub use linearizable::{check_linearizable, to_model_history, write_view, LINEARIZABILITY_BUDGET};
pub use tester::{Ck, KvTester};

/// What a world keeps for the KV checks.
#[derive(Clone, Debug, Default)]
pub struct KvChecks {
    /// Every server that reached an applied index holds the same state there.
    pub agreement: KvAgreement,
    /// Every operation the scenario's clients called, with its times.
    pub history: KvHistory,
}
