//! The linearizability checker on lab-style KV histories (`cargo bench -p sim --bench
//! linearizability`): 5,000 operations of 1, 10 and 50 closed-loop clients with the
//! lab's mix (0.5 append, 0.05 put, 0.45 get) and `"x <client> <n> y"` values, each
//! linearizable as generated and with one get changed to a value never written (a get
//! half way through the history). Criterion reports operations checked per second; the
//! verdict and the search steps of each history are printed first (they do not vary).
//!
//! Shapes: `few-keys` spreads the clients over 5 keys (the 50-client history, 10
//! clients per key, is beyond the default budget: see the printout); `lab-keys` draws
//! keys from [0, clients) as the lab's linearizability test does; `own-key` gives each
//! client its own key and no puts (the lab's GenericTest), so that with one client the
//! value grows to thousands of tokens.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sim::linearizability::generate::{lab_kv_history, mutate_read, Keys, LabHistory};
use sim::linearizability::{check, Budget, KvInput, KvModel, KvOutput, Operation, Verdict};

const OPERATIONS: usize = 5_000;

struct Case {
    name: String,
    history: Vec<Operation<KvInput, KvOutput>>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for clients in [1, 10, 50] {
        let shapes = [
            ("few-keys", Keys::Random(5), true),
            ("lab-keys", Keys::Random(clients), true),
            ("own-key", Keys::PerClient, false),
        ];
        for (shape, keys, puts) in shapes {
            let spec = LabHistory {
                seed: 1,
                clients,
                operations: OPERATIONS,
                keys,
                puts,
            };
            let history = lab_kv_history(&spec);
            let mut mutated = history.clone();
            mutate_read(&mut mutated, OPERATIONS / 2);
            cases.push(Case {
                name: format!("{shape}/{clients}-clients/ok"),
                history,
            });
            cases.push(Case {
                name: format!("{shape}/{clients}-clients/illegal"),
                history: mutated,
            });
        }
    }
    cases
}

fn checker(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(OPERATIONS as u64));
    for case in cases() {
        #[allow(clippy::disallowed_methods)] // wall time is reported, never decides
        let started = std::time::Instant::now();
        let result = check(&KvModel, &case.history, Budget::DEFAULT, 1).expect("valid");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{:<36} {:<8} {:>11} steps {:>9.0} ops/s (one run, one thread)",
            case.name,
            result.verdict.as_str(),
            result.steps,
            OPERATIONS as f64 / seconds
        );
        if result.verdict == Verdict::Unknown {
            println!(
                "{:<36} not timed: undecided within {} steps per partition",
                case.name,
                Budget::DEFAULT.0
            );
            continue;
        }
        group.bench_function(&case.name, |b| {
            b.iter(|| check(&KvModel, black_box(&case.history), Budget::DEFAULT, 1));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = checker
}
criterion_main!(benches);
