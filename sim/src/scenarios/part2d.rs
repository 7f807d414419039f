//! Part 2D, log compaction: snapshots with disconnects, crashes, loss, and restarts.

use super::{body, Part, Scenario};
use crate::ensure;
use crate::tester::{TestResult, Tester};

/// The lab's bound on the persisted raft state, in bytes.
pub const MAX_LOG_SIZE: usize = 2000;

pub(super) fn scenarios() -> Vec<Scenario> {
    let scenario = |id, title, unreliable, body| {
        Scenario::new(id, Part::D2, title, &[3], body)
            .unreliable(unreliable)
            .with_snapshots()
    };
    vec![
        scenario(
            "snapshot-basic",
            "snapshots basic",
            false,
            body!(snapshot_basic),
        ),
        scenario(
            "snapshot-install",
            "install snapshots (disconnect)",
            false,
            body!(snapshot_install),
        ),
        scenario(
            "snapshot-install-unreliable",
            "install snapshots (disconnect+unreliable)",
            true,
            body!(snapshot_install_unreliable),
        ),
        scenario(
            "snapshot-install-crash",
            "install snapshots (crash)",
            false,
            body!(snapshot_install_crash),
        ),
        scenario(
            "snapshot-install-unreliable-crash",
            "install snapshots (unreliable+crash)",
            true,
            body!(snapshot_install_unreliable_crash),
        ),
        scenario(
            "snapshot-all-crash",
            "crash and restart all servers",
            false,
            body!(snapshot_all_crash),
        ),
        scenario(
            "snapshot-init",
            "snapshot initialization after crash",
            false,
            body!(snapshot_init),
        ),
    ]
}

async fn snapshot_basic(t: Tester) -> TestResult {
    snap_common(t, false, false).await
}

async fn snapshot_install(t: Tester) -> TestResult {
    snap_common(t, true, false).await
}

async fn snapshot_install_unreliable(t: Tester) -> TestResult {
    snap_common(t, true, false).await
}

async fn snapshot_install_crash(t: Tester) -> TestResult {
    snap_common(t, false, true).await
}

async fn snapshot_install_unreliable_crash(t: Tester) -> TestResult {
    snap_common(t, false, true).await
}

/// The lab's snapcommon (2022+): thirty rounds of Starts on a leader while a victim is
/// disconnected or crashed, with the log kept under 2000 bytes by snapshots.
async fn snap_common(t: Tester, disconnect: bool, crash: bool) -> TestResult {
    let n = t.n();
    t.one(t.random_command(), n, true).await?;
    let mut leader1 = t.check_one_leader().await?;
    for i in 0..30 {
        let (mut victim, mut sender) = ((leader1 + 1) % n, leader1);
        if i % 3 == 1 {
            std::mem::swap(&mut victim, &mut sender);
        }
        if disconnect {
            t.disconnect(victim);
            t.one(t.random_command(), n - 1, true).await?;
        }
        if crash {
            t.crash1(victim);
            t.one(t.random_command(), n - 1, true).await?;
        }
        let starts = 5 + t.rand(10);
        for _ in 0..starts {
            t.start(sender, &t.random_command());
        }
        let expected = if disconnect || crash { n - 1 } else { n };
        t.one(t.random_command(), expected, true).await?;
        let size = t.log_size();
        ensure!(size < MAX_LOG_SIZE, "Log size too large: {size} bytes");
        if disconnect {
            t.connect(victim);
            t.one(t.random_command(), n, true).await?;
            leader1 = t.check_one_leader().await?;
        }
        if crash {
            t.start1(victim);
            t.connect(victim);
            t.one(t.random_command(), n, true).await?;
            leader1 = t.check_one_leader().await?;
        }
    }
    Ok(())
}

fn restart_all(t: &Tester) {
    for i in 0..t.n() {
        t.crash1(i);
    }
    for i in 0..t.n() {
        t.start1(i);
        t.connect(i);
    }
}

async fn snapshot_all_crash(t: Tester) -> TestResult {
    let n = t.n();
    t.one(t.random_command(), n, true).await?;
    for _ in 0..5 {
        let rounds = 5 + t.rand(10);
        for _ in 0..rounds {
            t.one(t.random_command(), n, true).await?;
        }
        let index1 = t.one(t.random_command(), n, true).await?;
        restart_all(&t);
        let index2 = t.one(t.random_command(), n, true).await?;
        ensure!(index2 > index1, "index decreased from {index1} to {index2}");
    }
    Ok(())
}

async fn snapshot_init(t: Tester) -> TestResult {
    let n = t.n();
    t.one(t.random_command(), n, true).await?;
    for _ in 0..11 {
        t.one(t.random_command(), n, true).await?;
    }
    restart_all(&t);
    t.one(t.random_command(), n, true).await?;
    restart_all(&t);
    t.one(t.random_command(), n, true).await?;
    Ok(())
}
