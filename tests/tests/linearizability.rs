//! The linearizability checker: hand-made histories for both models, each showing one
//! rule; property tests (a sequential execution widened at random is always
//! linearizable, and one read changed to a value never written never is); typed errors
//! on bad input; the same result on any number of threads; lab-style histories.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sim::linearizability::generate::{
    lab_kv_history, mutate_read, Keys, LabHistory, NEVER_WRITTEN,
};
use sim::linearizability::{
    check, history_to_json_lines, parse_history, states_along, Budget, CheckResult, HistoryError,
    KvInput, KvModel, KvOutput, LineError, Model, ModelOperation, Operation, Outcome,
    RegisterInput, RegisterModel, RegisterOutput, RegisterValue, Verdict,
};

type KvOp = Operation<KvInput, KvOutput>;
type RegOp = Operation<RegisterInput, RegisterOutput>;

fn put(client: u64, value: &str, call: u64, ret: u64) -> KvOp {
    Operation::returned(
        client,
        KvInput::put("k", value),
        KvOutput::default(),
        call,
        ret,
    )
}

fn append(client: u64, value: &str, call: u64, ret: u64) -> KvOp {
    Operation::returned(
        client,
        KvInput::append("k", value),
        KvOutput::default(),
        call,
        ret,
    )
}

fn get(client: u64, read: &str, call: u64, ret: u64) -> KvOp {
    Operation::returned(client, KvInput::get("k"), KvOutput::new(read), call, ret)
}

fn int(n: i64) -> RegisterValue {
    RegisterValue::Int(n)
}

fn write(client: u64, value: i64, call: u64, ret: u64) -> RegOp {
    let input = RegisterInput::Write(int(value));
    Operation::returned(client, input, RegisterOutput::Written, call, ret)
}

fn read(client: u64, value: Option<i64>, call: u64, ret: u64) -> RegOp {
    let output = RegisterOutput::Read(value.map(int));
    Operation::returned(client, RegisterInput::Read, output, call, ret)
}

fn cas(client: u64, from: i64, to: i64, ok: bool, call: u64, ret: u64) -> RegOp {
    let input = RegisterInput::Cas {
        from: int(from),
        to: int(to),
    };
    Operation::returned(client, input, RegisterOutput::Cas(ok), call, ret)
}

fn run<M: Model>(model: &M, history: &[ModelOperation<M>]) -> CheckResult {
    let result = check(model, history, Budget(1_000_000), 1).expect("a valid history");
    if let Some(order) = result.partitions.iter().find_map(|p| match &p.outcome {
        Outcome::Ok { order } => Some(order),
        _ => None,
    }) {
        assert_is_linearization(model, history, order);
    }
    result
}

/// `order` respects real time and the model accepts every output along it.
fn assert_is_linearization<M: Model>(model: &M, history: &[ModelOperation<M>], order: &[usize]) {
    assert_eq!(
        states_along(model, history, order).len(),
        order.len(),
        "{order:?}"
    );
    for (n, &earlier) in order.iter().enumerate() {
        for &later in &order[n + 1..] {
            if let Some(ret) = history[later].return_time {
                assert!(
                    ret >= history[earlier].call,
                    "op {later} returned before op {earlier} was called, yet comes after it"
                );
            }
        }
    }
}

fn assert_ok<M: Model>(model: &M, history: &[ModelOperation<M>]) {
    let result = run(model, history);
    assert_eq!(result.verdict, Verdict::Ok, "{result:#?}");
}

/// Asserts the history is illegal and that `blocking` is the operation highlighted.
fn assert_illegal<M: Model>(model: &M, history: &[ModelOperation<M>], blocking: usize) {
    let result = run(model, history);
    assert_eq!(result.verdict, Verdict::Illegal, "{result:#?}");
    let illegal = result.partitions_with(Verdict::Illegal).next().unwrap();
    let Outcome::Illegal {
        prefix,
        unplaceable,
        ..
    } = &illegal.outcome
    else {
        unreachable!()
    };
    assert_eq!(unplaceable.first(), Some(&blocking), "prefix {prefix:?}");
    assert!(!prefix.contains(&blocking));
}

// ---- kv: one rule each ----

#[test]
fn kv_a_stale_read_is_illegal() {
    let history = [put(0, "a", 0, 10), put(0, "b", 20, 30), get(1, "a", 40, 50)];
    assert_illegal(&KvModel, &history, 2);
}

#[test]
fn kv_a_read_of_a_value_never_written_is_illegal() {
    let history = [put(0, "a", 0, 10), get(1, "z", 5, 15)];
    assert_illegal(&KvModel, &history, 1);
}

#[test]
fn kv_a_lost_append_is_illegal() {
    let both = [append(0, "x", 0, 10), append(0, "y", 20, 30)];
    assert_ok(
        &KvModel,
        &[both[0].clone(), both[1].clone(), get(1, "xy", 40, 50)],
    );
    assert_illegal(
        &KvModel,
        &[both[0].clone(), both[1].clone(), get(1, "x", 40, 50)],
        2,
    );
    assert_illegal(
        &KvModel,
        &[both[0].clone(), both[1].clone(), get(1, "y", 40, 50)],
        2,
    );
}

#[test]
fn kv_two_concurrent_writes_may_be_read_in_either_order() {
    let writes = [put(0, "a", 0, 10), put(1, "b", 0, 10)];
    for last in ["a", "b"] {
        let mut history = writes.to_vec();
        history.push(get(2, last, 20, 30));
        history.push(get(2, last, 40, 50));
        assert_ok(&KvModel, &history);
    }
    // Read during the writes: b then a is an order too.
    let mut history = writes.to_vec();
    history.extend([get(2, "b", 2, 3), get(2, "a", 4, 5)]);
    assert_ok(&KvModel, &history);
    // Once both are done the value is fixed: it cannot be read as a, then as b.
    let mut history = writes.to_vec();
    history.extend([get(2, "a", 20, 30), get(2, "b", 40, 50)]);
    assert_illegal(&KvModel, &history, 3);
}

#[test]
fn kv_an_unfinished_write_may_or_may_not_take_effect() {
    let unfinished = Operation::pending(0, KvInput::put("k", "a"), 0);
    assert_ok(&KvModel, &[unfinished.clone(), get(1, "a", 10, 20)]);
    assert_ok(&KvModel, &[unfinished.clone(), get(1, "", 10, 20)]);
    assert_ok(
        &KvModel,
        &[unfinished.clone(), get(1, "", 10, 20), get(1, "a", 30, 40)],
    );
    // Once it took effect, it stays.
    assert_illegal(
        &KvModel,
        &[unfinished.clone(), get(1, "a", 10, 20), get(1, "", 30, 40)],
        2,
    );
    // It cannot take effect before its call.
    let late = Operation::pending(0, KvInput::put("k", "a"), 10);
    assert_illegal(&KvModel, &[get(1, "a", 0, 5), late], 0);
}

#[test]
fn kv_a_read_that_never_returned_is_dropped() {
    let history = [
        put(0, "a", 0, 10),
        Operation::pending(1, KvInput::get("k"), 5),
        get(2, "a", 20, 30),
    ];
    let result = run(&KvModel, &history);
    assert_eq!(result.verdict, Verdict::Ok);
    assert_eq!(result.partitions[0].dropped, vec![1]);
    assert_eq!(result.partitions[0].operations, vec![0, 2]);
}

#[test]
fn kv_touching_intervals_are_concurrent() {
    assert_ok(&KvModel, &[put(0, "a", 0, 5), get(1, "", 5, 6)]);
    assert_ok(&KvModel, &[get(1, "a", 0, 5), put(0, "a", 5, 10)]);
    assert_illegal(&KvModel, &[put(0, "a", 0, 5), get(1, "", 6, 7)], 1);
}

#[test]
fn kv_keys_are_checked_apart_in_key_order() {
    let op = |client, input: KvInput, output: &str, call, ret| {
        Operation::returned(client, input, KvOutput::new(output), call, ret)
    };
    let history = [
        op(0, KvInput::put("b", "1"), "", 0, 10),
        op(1, KvInput::get("b"), "2", 20, 30),
        op(0, KvInput::put("a", "1"), "", 0, 10),
        op(1, KvInput::get("a"), "1", 20, 30),
    ];
    let result = run(&KvModel, &history);
    assert_eq!(result.verdict, Verdict::Illegal);
    let names: Vec<&str> = result.partitions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, [r#"key "a""#, r#"key "b""#]);
    let verdicts: Vec<Verdict> = result
        .partitions
        .iter()
        .map(|p| p.outcome.verdict())
        .collect();
    assert_eq!(verdicts, [Verdict::Ok, Verdict::Illegal]);
    assert_eq!(result.operations, 4);
    assert_eq!(
        result.steps,
        result.partitions.iter().map(|p| p.steps).sum::<u64>()
    );
}

#[test]
fn kv_a_spent_budget_is_unknown_never_ok() {
    let history = lab_kv_history(&LabHistory {
        seed: 3,
        clients: 3,
        operations: 400,
        keys: Keys::Random(1),
        puts: true,
    });
    let result = check(&KvModel, &history, Budget(10), 1).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert_eq!(result.steps, 10);
    assert!(check(&KvModel, &history, Budget::DEFAULT, 1)
        .unwrap()
        .is_ok());
}

// ---- register: one rule each ----

#[test]
fn register_a_stale_read_is_illegal() {
    let history = [
        write(0, 1, 0, 10),
        write(0, 2, 20, 30),
        read(1, Some(1), 40, 50),
    ];
    assert_illegal(&RegisterModel, &history, 2);
}

#[test]
fn register_a_read_of_a_value_never_written_is_illegal() {
    assert_ok(&RegisterModel, &[read(1, None, 0, 5), write(0, 1, 10, 20)]);
    assert_illegal(
        &RegisterModel,
        &[write(0, 1, 0, 10), read(1, Some(7), 5, 15)],
        1,
    );
    assert_illegal(
        &RegisterModel,
        &[write(0, 1, 0, 10), read(1, None, 20, 30)],
        1,
    );
}

#[test]
fn register_two_concurrent_writes_may_be_read_in_either_order() {
    for last in [1, 2] {
        let history = [
            write(0, 1, 0, 10),
            write(1, 2, 0, 10),
            read(2, Some(last), 20, 30),
        ];
        assert_ok(&RegisterModel, &history);
    }
    let history = [
        write(0, 1, 0, 10),
        write(1, 2, 0, 10),
        read(2, Some(1), 20, 30),
        read(2, Some(2), 40, 50),
    ];
    assert_illegal(&RegisterModel, &history, 3);
}

#[test]
fn register_an_unfinished_write_may_or_may_not_take_effect() {
    let unfinished = Operation::pending(0, RegisterInput::Write(int(1)), 0);
    assert_ok(
        &RegisterModel,
        &[unfinished.clone(), read(1, Some(1), 10, 20)],
    );
    assert_ok(&RegisterModel, &[unfinished.clone(), read(1, None, 10, 20)]);
    assert_illegal(
        &RegisterModel,
        &[unfinished, read(1, Some(1), 10, 20), read(1, None, 30, 40)],
        2,
    );
}

#[test]
fn register_a_cas_that_succeeded_on_a_stale_value_is_illegal() {
    let writes = [write(0, 1, 0, 10), write(0, 2, 20, 30)];
    let with = |op: RegOp| {
        let mut history = writes.to_vec();
        history.push(op);
        history
    };
    assert_illegal(&RegisterModel, &with(cas(1, 1, 3, true, 40, 50)), 2);
    assert_ok(&RegisterModel, &with(cas(1, 2, 3, true, 40, 50)));
    assert_ok(&RegisterModel, &with(cas(1, 1, 3, false, 40, 50)));
    assert_illegal(&RegisterModel, &with(cas(1, 2, 3, false, 40, 50)), 2);
}

#[test]
fn register_an_unfinished_cas_takes_effect_only_if_the_value_matches() {
    let pending_cas = |from| {
        let input = RegisterInput::Cas {
            from: int(from),
            to: int(3),
        };
        Operation::pending(1, input, 20)
    };
    let history = [write(0, 1, 0, 10), pending_cas(1), read(2, Some(3), 30, 40)];
    assert_ok(&RegisterModel, &history);
    let history = [write(0, 1, 0, 10), pending_cas(2), read(2, Some(3), 30, 40)];
    assert_illegal(&RegisterModel, &history, 2);
}

// ---- properties ----

/// One operation of a random sequential execution: what it is, and how far its interval
/// reaches before and after its point (in points), and whether it never returned.
type Planned = (u8, u8, u8, u8, bool);

fn planned() -> impl Strategy<Value = Vec<Planned>> {
    let op = (
        0..10u8,
        0..3u8,
        0..5u8,
        0..5u8,
        (0..8u8).prop_map(|n| n == 0),
    );
    proptest::collection::vec(op, 1..36)
}

/// The interval of the operation at point `position`, widened around it.
fn interval(position: usize, before: u8, after: u8, pending: bool) -> (u64, Option<u64>) {
    let point = 20 + 4 * position as u64;
    let call = point - 3 * u64::from(before);
    (call, (!pending).then_some(point + 3 * u64::from(after)))
}

/// A KV execution in the order of its points; outputs are what the model gives.
fn kv_execution(plan: &[Planned]) -> Vec<KvOp> {
    let mut values: Vec<String> = vec![String::new(); 3];
    let mut history: Vec<KvOp> = plan
        .iter()
        .enumerate()
        .map(|(n, &(kind, key, before, after, pending))| {
            let (call, return_time) = interval(n, before, after, pending);
            let key_index = usize::from(key);
            let token = format!("x {} {n} y", n % 4);
            let (input, output) = match kind {
                0..=4 => {
                    values[key_index].push_str(&token);
                    (KvInput::append(key.to_string(), token), String::new())
                }
                5 => {
                    values[key_index].clone_from(&token);
                    (KvInput::put(key.to_string(), token), String::new())
                }
                _ => (KvInput::get(key.to_string()), values[key_index].clone()),
            };
            let output = return_time.map(|_| KvOutput::new(output));
            Operation {
                client_id: n as u64 % 4,
                input,
                output,
                call,
                return_time,
            }
        })
        .collect();
    let last = plan.len() as u64 * 4 + 40;
    history.push(Operation::returned(
        9,
        KvInput::get("0"),
        KvOutput::new(values[0].clone()),
        last,
        last + 1,
    ));
    history
}

/// A register execution in the order of its points (values 0..4, starting empty).
fn register_execution(plan: &[Planned]) -> Vec<RegOp> {
    let mut value: Option<i64> = None;
    let mut history: Vec<RegOp> = plan
        .iter()
        .enumerate()
        .map(|(n, &(kind, arg, before, after, pending))| {
            let (call, return_time) = interval(n, before, after, pending);
            let arg = i64::from(arg);
            let (input, output) = match kind {
                0..=2 => {
                    value = Some(arg);
                    (RegisterInput::Write(int(arg)), RegisterOutput::Written)
                }
                3..=5 => {
                    let swapped = value == Some(arg);
                    if swapped {
                        value = Some((arg + 1) % 3);
                    }
                    let input = RegisterInput::Cas {
                        from: int(arg),
                        to: int((arg + 1) % 3),
                    };
                    (input, RegisterOutput::Cas(swapped))
                }
                _ => (RegisterInput::Read, RegisterOutput::Read(value.map(int))),
            };
            Operation {
                client_id: n as u64 % 4,
                input,
                output: return_time.map(|_| output),
                call,
                return_time,
            }
        })
        .collect();
    let last = plan.len() as u64 * 4 + 40;
    let output = RegisterOutput::Read(value.map(int));
    history.push(Operation::returned(
        9,
        RegisterInput::Read,
        output,
        last,
        last + 1,
    ));
    history
}

fn runner(seed: u8) -> TestRunner {
    let config = Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// The returned reads of a history.
fn returned_reads<M: Model>(model: &M, history: &[ModelOperation<M>]) -> Vec<usize> {
    (0..history.len())
        .filter(|&i| model.is_read_only(&history[i].input) && history[i].known_output().is_some())
        .collect()
}

fn check_property<M: Model>(
    model: &M,
    mut history: Vec<ModelOperation<M>>,
    pick: prop::sample::Index,
    never_written: M::Output,
) -> Result<(), TestCaseError> {
    let result = check(model, &history, Budget(1_000_000), 2).unwrap();
    prop_assert_eq!(result.verdict, Verdict::Ok, "{:#?}", result);
    for partition in &result.partitions {
        if let Outcome::Ok { order } = &partition.outcome {
            assert_is_linearization(model, &history, order);
        }
    }
    let reads = returned_reads(model, &history);
    let mutated = reads[pick.index(reads.len())];
    history[mutated].output = Some(never_written);
    let result = check(model, &history, Budget(1_000_000), 2).unwrap();
    prop_assert_eq!(result.verdict, Verdict::Illegal, "{:#?}", result);
    for partition in result.partitions_with(Verdict::Illegal) {
        if let Outcome::Illegal {
            prefix,
            unplaceable,
            ..
        } = &partition.outcome
        {
            prop_assert!(!prefix.contains(&mutated));
            prop_assert!(!unplaceable.is_empty());
        }
    }
    Ok(())
}

#[test]
fn kv_widened_sequential_executions_are_linearizable_until_a_read_lies() {
    let strategy = (planned(), any::<prop::sample::Index>());
    runner(21)
        .run(&strategy, |(plan, pick)| {
            let never = KvOutput::new(NEVER_WRITTEN);
            check_property(&KvModel, kv_execution(&plan), pick, never)
        })
        .unwrap();
}

#[test]
fn register_widened_sequential_executions_are_linearizable_until_a_read_lies() {
    let strategy = (planned(), any::<prop::sample::Index>());
    runner(22)
        .run(&strategy, |(plan, pick)| {
            let never = RegisterOutput::Read(Some(RegisterValue::Text("never".into())));
            check_property(&RegisterModel, register_execution(&plan), pick, never)
        })
        .unwrap();
}

// ---- lab-style histories, threads ----

#[test]
fn lab_histories_are_linearizable_and_a_mutated_read_is_not() {
    let shapes = [
        (1, 1, 1, true),
        (2, 5, 5, true),
        (3, 10, 10, true),
        (4, 8, 4, true),
        (5, 50, 50, true),
        // No puts: the value of the one key grows to 1,500 tokens.
        (6, 2, 1, false),
    ];
    for (seed, clients, keys, puts) in shapes {
        let spec = LabHistory {
            seed,
            clients,
            operations: 3000,
            keys: Keys::Random(keys),
            puts,
        };
        let mut history = lab_kv_history(&spec);
        let result = check(&KvModel, &history, Budget::DEFAULT, 1).unwrap();
        assert_eq!(result.verdict, Verdict::Ok, "{spec:?}");
        let mutated = mutate_read(&mut history, 1500).unwrap();
        let result = check(&KvModel, &history, Budget::DEFAULT, 1).unwrap();
        assert_eq!(result.verdict, Verdict::Illegal, "{spec:?}");
        let illegal: Vec<_> = result.partitions_with(Verdict::Illegal).collect();
        assert_eq!(illegal.len(), 1, "{spec:?}");
        assert!(illegal[0].operations.contains(&mutated));
    }
}

#[test]
fn the_generator_is_deterministic() {
    let spec = LabHistory {
        seed: 9,
        clients: 10,
        operations: 500,
        keys: Keys::Random(3),
        puts: true,
    };
    assert_eq!(lab_kv_history(&spec), lab_kv_history(&spec));
    let other = LabHistory { seed: 10, ..spec };
    assert_ne!(lab_kv_history(&spec), lab_kv_history(&other));
}

#[test]
fn threads_give_the_same_result_as_one() {
    let spec = LabHistory {
        seed: 7,
        clients: 12,
        operations: 3000,
        keys: Keys::Random(8),
        puts: true,
    };
    let mut history = lab_kv_history(&spec);
    for budget in [Budget::DEFAULT, Budget(2_000)] {
        let one = check(&KvModel, &history, budget, 1).unwrap();
        for jobs in [2, 3, 16] {
            assert_eq!(check(&KvModel, &history, budget, jobs).unwrap(), one);
        }
    }
    mutate_read(&mut history, 100).unwrap();
    mutate_read(&mut history, 2000).unwrap();
    let one = check(&KvModel, &history, Budget::DEFAULT, 1).unwrap();
    assert_eq!(one.verdict, Verdict::Illegal);
    assert_eq!(check(&KvModel, &history, Budget::DEFAULT, 4).unwrap(), one);
}

// ---- history files and bad input ----

#[test]
fn histories_survive_a_round_trip_through_json_lines() {
    let kv = lab_kv_history(&LabHistory {
        seed: 1,
        clients: 4,
        operations: 200,
        keys: Keys::Random(2),
        puts: true,
    });
    let mut kv = kv;
    kv.push(Operation::pending(
        3,
        KvInput::append("0", "x 3 99 y"),
        5000,
    ));
    let text = history_to_json_lines(&KvModel, &kv);
    assert_eq!(parse_history(&KvModel, &text).unwrap(), kv);
    let register = vec![
        write(0, 1, 0, 10),
        cas(1, 1, 2, true, 5, 15),
        read(2, None, 0, 1),
        Operation::returned(
            2,
            RegisterInput::Write(RegisterValue::Text("s".into())),
            RegisterOutput::Written,
            20,
            30,
        ),
        Operation::pending(3, RegisterInput::Read, 40),
    ];
    let text = history_to_json_lines(&RegisterModel, &register);
    assert_eq!(parse_history(&RegisterModel, &text).unwrap(), register);
}

#[test]
fn the_readme_example_parses() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme
        .find("## Checking linearizability")
        .expect("the section")..];
    let start = section.find("```json\n").expect("the example") + "```json\n".len();
    let text = &section[start..start + section[start..].find("```").unwrap()];
    let history = parse_history(&KvModel, text).unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[1].return_time, None);
    assert!(run(&KvModel, &history).is_ok());
}

fn kv_error(text: &str) -> HistoryError {
    parse_history(&KvModel, text).expect_err("bad input")
}

#[test]
fn bad_lines_are_typed_errors_naming_the_line() {
    let good = r#"{"client": 0, "input": {"op": "get", "key": "k"}, "output": {"value": ""}, "call": 0, "return": 1}"#;
    let cases: Vec<(String, LineError)> = vec![
        (
            r#"{"client": 0, "input": {"op": "get", "key": "k"}, "output": {"value": ""}, "call": 9, "return": 3}"#.into(),
            LineError::ReturnBeforeCall { call: 9, return_time: 3 },
        ),
        (
            r#"{"client": 0, "input": {"op": "incr", "key": "k"}, "call": 0, "return": 3}"#.into(),
            LineError::UnknownOp { op: "incr".into(), model: "kv", known: "get, put, append" },
        ),
        (r#"{"client": 0, "input": "#.into(), LineError::Malformed(String::new())),
        ("[1, 2]".into(), LineError::NotAnObject),
        (
            r#"{"client": 0, "input": {"op": "get", "key": "k"}, "return": 3}"#.into(),
            LineError::MissingField("call"),
        ),
        (
            r#"{"client": 0, "input": {"op": "get", "key": "k"}, "call": 3}"#.into(),
            LineError::MissingField("return"),
        ),
        (
            r#"{"client": 0, "input": {"op": "put", "key": "k"}, "call": 0, "return": 3}"#.into(),
            LineError::MissingField("input.value"),
        ),
        (
            r#"{"client": 0, "input": {"op": "get", "key": "k"}, "call": 0, "return": 3}"#.into(),
            LineError::MissingField("output"),
        ),
        (
            r#"{"client": -1, "input": {"op": "get", "key": "k"}, "call": 0, "return": 3}"#.into(),
            LineError::WrongType { field: "client", expected: "an unsigned integer" },
        ),
        (
            r#"{"client": 0, "input": {"op": "put", "key": "k", "value": "v"}, "output": {}, "call": 0, "return": null}"#.into(),
            LineError::OutputWithoutReturn,
        ),
    ];
    for (bad, expected) in cases {
        // The bad line is line 3: a good line and a blank line come first.
        let text = format!("{good}\n\n{bad}\n{good}\n");
        let error = kv_error(&text);
        let HistoryError::Line { line, error: found } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*line, 3, "{bad}");
        match (&expected, found) {
            (LineError::Malformed(_), LineError::Malformed(_)) => {}
            _ => assert_eq!(found, &expected, "{bad}"),
        }
        assert!(error.to_string().starts_with("line 3: "), "{error}");
    }
}

#[test]
fn bad_register_lines_are_typed_errors() {
    let error = parse_history(
        &RegisterModel,
        r#"{"client": 0, "input": {"op": "cas", "from": 1}, "output": {"ok": true}, "call": 0, "return": 3}"#,
    )
    .unwrap_err();
    assert_eq!(
        error,
        HistoryError::Line {
            line: 1,
            error: LineError::MissingField("input.to")
        }
    );
    let error = parse_history(
        &RegisterModel,
        r#"{"client": 0, "input": {"op": "cas", "from": 1, "to": 2}, "output": {"ok": "yes"}, "call": 0, "return": 3}"#,
    )
    .unwrap_err();
    assert!(error.to_string().contains("output.ok"), "{error}");
}

#[test]
fn an_operation_returning_before_its_call_is_an_error_in_memory_too() {
    let history = [put(0, "a", 0, 10), put(0, "b", 30, 20)];
    assert_eq!(
        check(&KvModel, &history, Budget::DEFAULT, 1),
        Err(HistoryError::ReturnBeforeCall {
            index: 1,
            call: 30,
            return_time: 20
        })
    );
}

// ---- against brute force ----

/// Whether some order of all operations respects real time (an operation that returned
/// before another was called comes first; one that never returned, at +infinity) and
/// the model: every permutation tried.
fn brute_force<M: Model>(model: &M, history: &[ModelOperation<M>]) -> bool {
    fn place<M: Model>(
        model: &M,
        ops: &[&ModelOperation<M>],
        left: &mut Vec<usize>,
        state: &M::State,
    ) -> bool {
        if left.is_empty() {
            return true;
        }
        for k in 0..left.len() {
            let op = ops[left[k]];
            let blocked = left
                .iter()
                .any(|&other| ops[other].return_time.is_some_and(|ret| ret < op.call));
            if blocked {
                continue;
            }
            if let Some(next) = model.step(state, &op.input, op.known_output()) {
                let taken = left.remove(k);
                let found = place(model, ops, left, &next);
                left.insert(k, taken);
                if found {
                    return true;
                }
            }
        }
        false
    }
    let ops: Vec<&ModelOperation<M>> = history
        .iter()
        .filter(|op| op.known_output().is_some() || !model.is_read_only(&op.input))
        .collect();
    place(model, &ops, &mut (0..ops.len()).collect(), &model.init())
}

#[test]
fn small_random_histories_agree_with_brute_force() {
    const VALUES: [&str; 5] = ["", "a", "b", "ab", "ba"];
    let op = (
        0..6u8,
        0..5usize,
        0..20u64,
        0..8u64,
        (0..6u8).prop_map(|n| n == 0),
    );
    let strategy = proptest::collection::vec(op, 1..8);
    let verdicts = std::cell::Cell::new([0u32; 2]);
    runner(23)
        .run(&strategy, |ops| {
            let history: Vec<KvOp> = ops
                .iter()
                .enumerate()
                .map(|(n, &(kind, value, call, length, pending))| {
                    let value = VALUES[value];
                    let input = match kind {
                        0 | 1 => KvInput::append("k", &value[..value.len().min(1)]),
                        2 => KvInput::put("k", value),
                        _ => KvInput::get("k"),
                    };
                    let output = KvOutput::new(if kind >= 3 { value } else { "" });
                    let mut op = Operation::returned(n as u64, input, output, call, call + length);
                    if pending {
                        op.output = None;
                        op.return_time = None;
                    }
                    op
                })
                .collect();
            let result = check(&KvModel, &history, Budget(1_000_000), 1).unwrap();
            let expected = brute_force(&KvModel, &history);
            let mut counts = verdicts.get();
            counts[usize::from(expected)] += 1;
            verdicts.set(counts);
            prop_assert_eq!(result.is_ok(), expected, "{:?}", history);
            prop_assert_ne!(result.verdict, Verdict::Unknown);
            Ok(())
        })
        .unwrap();
    // Both verdicts occur often enough for the comparison to mean something.
    let counts = verdicts.get();
    println!("brute force: {counts:?}");
    assert!(counts.iter().all(|&n| n > 40), "{counts:?}");
}

// ---- many concurrent appends to one key ----

/// Five clients append ten tokens each to one key, one after another, each append
/// concurrent with the other clients' of its round (the lab's kv-unreliable-one-key
/// shape: 120 orders a round, 120^10 in all), then one read shows their order.
fn concurrent_appends(final_value: impl FnOnce(Vec<String>) -> String) -> Vec<KvOp> {
    let mut history = Vec::new();
    let mut order = Vec::new();
    for round in 0..10u64 {
        for client in 0..5u64 {
            let token = format!("x {client} {round} y");
            let call = round * 200 + client;
            history.push(Operation::returned(
                client,
                KvInput::append("k", token.as_str()),
                KvOutput::default(),
                call,
                call + 150,
            ));
            order.push(token);
        }
    }
    history.push(Operation::returned(
        9,
        KvInput::get("k"),
        KvOutput::new(final_value(order)),
        2_000,
        2_001,
    ));
    history
}

#[test]
fn concurrent_appends_to_one_key_are_decided_in_few_steps() {
    let ok = concurrent_appends(|order| order.concat());
    let result = check(&KvModel, &ok, Budget(100_000), 1).unwrap();
    assert_eq!(result.verdict, Verdict::Ok);
    assert!(result.steps < 10_000, "{} steps", result.steps);

    // Two tokens of one client swapped: no order of the appends reads like this.
    let swapped = concurrent_appends(|mut order| {
        order.swap(0, 5);
        order.concat()
    });
    let result = check(&KvModel, &swapped, Budget(100_000), 1).unwrap();
    assert_eq!(result.verdict, Verdict::Illegal);
}
