//! `raftlab check` as a user runs it: the built binary on history files, its exit codes
//! (0 linearizable, 1 not, 3 unknown, 2 bad input or usage), `--json` and `--html`.

use std::path::PathBuf;
use std::process::{Command, Output};

use sim::linearizability::generate::{lab_kv_history, mutate_read, Keys, LabHistory};
use sim::linearizability::{history_to_json_lines, KvModel};

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("raftlab-check-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

fn raftlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raftlab"))
        .args(args)
        .output()
        .expect("raftlab runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit code")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn lab_files(dir: &std::path::Path) -> (String, String) {
    let spec = LabHistory {
        seed: 5,
        clients: 6,
        operations: 600,
        keys: Keys::Random(3),
        puts: true,
    };
    let mut history = lab_kv_history(&spec);
    let ok = dir.join("ok.jsonl");
    std::fs::write(&ok, history_to_json_lines(&KvModel, &history)).unwrap();
    mutate_read(&mut history, 300).unwrap();
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, history_to_json_lines(&KvModel, &history)).unwrap();
    (ok.display().to_string(), bad.display().to_string())
}

#[test]
fn exit_codes_follow_the_verdict() {
    let dir = scratch("codes");
    let (ok, bad) = lab_files(&dir);
    let out = raftlab(&["check", &ok]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("total: linearizable"));
    let out = raftlab(&["check", &bad, "--jobs", "2"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("NOT LINEARIZABLE"));
    assert!(stdout(&out).contains("x never written y!"));
    let out = raftlab(&["check", &ok, "--budget", "5"]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    assert!(stdout(&out).contains("UNKNOWN"));
}

#[test]
fn bad_input_and_usage_exit_2() {
    let dir = scratch("bad-input");
    let broken = dir.join("broken.jsonl");
    std::fs::write(
        &broken,
        "{\"client\": 0, \"input\": {\"op\": \"get\", \"key\": \"k\"}, \"output\": {\"value\": \"\"}, \"call\": 0, \"return\": 1}\n{\"client\": 0, \"input\": {\"op\": \"frobnicate\"}, \"call\": 2, \"return\": 3}\n",
    )
    .unwrap();
    let broken = broken.display().to_string();
    let out = raftlab(&["check", &broken]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: unknown operation `frobnicate`"),
        "{stderr}"
    );
    let missing = dir.join("missing.jsonl").display().to_string();
    assert_eq!(code(&raftlab(&["check", &missing])), 2);
    let (ok, _) = lab_files(&dir);
    assert_eq!(code(&raftlab(&["check", &ok, "--model", "nope"])), 2);
    assert_eq!(code(&raftlab(&["check", &ok, "--budget", "0"])), 2);
    assert_eq!(code(&raftlab(&["check", &ok, "--jobs", "0"])), 2);
    // A kv history is not a register history.
    assert_eq!(code(&raftlab(&["check", &ok, "--model", "register"])), 2);
}

#[test]
fn json_and_html_reports() {
    let dir = scratch("reports");
    let (_, bad) = lab_files(&dir);
    let view = dir.join("view.html");
    let out = raftlab(&[
        "check",
        &bad,
        "--json",
        "--html",
        &view.display().to_string(),
    ]);
    assert_eq!(code(&out), 1);
    let report: serde_json::Value =
        serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    assert_eq!(report["verdict"], "illegal");
    assert_eq!(report["operations"], 600);
    let partitions = report["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3);
    let illegal: Vec<_> = partitions
        .iter()
        .filter(|p| p["verdict"] == "illegal")
        .collect();
    assert_eq!(illegal.len(), 1);
    assert!(illegal[0]["unplaceable"]
        .as_array()
        .is_some_and(|u| !u.is_empty()));
    let steps: u64 = partitions
        .iter()
        .map(|p| p["steps"].as_u64().unwrap())
        .sum();
    assert_eq!(report["steps"].as_u64(), Some(steps));
    let html = std::fs::read_to_string(&view).expect("the view was written");
    assert!(html.contains("history-data") && !html.contains("http"));
}

#[test]
fn register_histories_from_stdin() {
    let history = concat!(
        "{\"client\": 1, \"input\": {\"op\": \"write\", \"value\": 1}, \"call\": 0, \"return\": 10}\n",
        "{\"client\": 2, \"input\": {\"op\": \"cas\", \"from\": 1, \"to\": 2}, \"output\": {\"ok\": true}, \"call\": 20, \"return\": 30}\n",
        "{\"client\": 3, \"input\": {\"op\": \"read\"}, \"output\": {\"value\": 1}, \"call\": 40, \"return\": 50}\n",
    );
    let run = |text: &str| {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_raftlab"))
            .args(["check", "-", "--model", "register"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert_eq!(code(&run(history)), 1);
    assert_eq!(
        code(&run(&history.replace(
            "\"value\": 1}, \"call\": 40",
            "\"value\": 2}, \"call\": 40"
        ))),
        0
    );
}
