//! The HTML view of a checked history, rendered in a real browser (headless Chromium):
//! every operation has its bar, the operation that cannot be placed is highlighted, and
//! a linearizable partition numbers its whole order.
//!
//! Without a browser the test says why it is skipped, unless RAFTLAB_REQUIRE_BROWSER=1
//! (CI sets it), when it fails. RAFTLAB_BROWSER names a browser binary to use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sim::linearizability::generate::{lab_kv_history, mutate_read, Keys, LabHistory};
use sim::linearizability::{
    check, render_html, Budget, KvInput, KvModel, Operation, Outcome, Verdict,
};

/// How long the browser may take, in tenths of a second, before it is killed.
const BROWSER_DEADLINE_TENTHS: u32 = 1200;

fn find_browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RAFTLAB_BROWSER") {
        return Some(PathBuf::from(path));
    }
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser", "google-chrome"].map(|n| dir.join(n)))
        .find(|candidate| candidate.exists())
}

/// The DOM of `page` after its scripts ran, as the browser dumps it.
fn rendered_dom(browser: &Path, page: &Path, profile: &Path) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout));
    let mut waited = 0;
    loop {
        if child.try_wait().expect("the browser's status").is_some() {
            break;
        }
        if waited >= BROWSER_DEADLINE_TENTHS {
            let _ = child.kill();
            panic!("{} did not finish rendering the view", browser.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    reader
        .join()
        .expect("the reader thread")
        .expect("the DOM as UTF-8")
}

/// Every bar of the DOM: operation index -> its classes.
fn bars(dom: &str) -> BTreeMap<usize, Vec<String>> {
    let mut bars = BTreeMap::new();
    for tag in dom.split("<div ").skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let attribute = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            Some(&tag[start..start + tag[start..].find('"')?])
        };
        let (Some(classes), Some(op)) = (attribute("class"), attribute("data-op")) else {
            continue;
        };
        let classes: Vec<String> = classes.split_whitespace().map(str::to_string).collect();
        if classes.iter().any(|c| c == "op") {
            let op: usize = op.parse().expect("data-op is a number");
            assert!(bars.insert(op, classes).is_none(), "two bars for op {op}");
        }
    }
    bars
}

#[test]
fn the_view_renders_every_operation_and_highlights_the_one_that_cannot_be_placed() {
    let Some(browser) = find_browser() else {
        let reason = "no browser found (install Debian's `chromium`, or set RAFTLAB_BROWSER)";
        if std::env::var("RAFTLAB_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("RAFTLAB_REQUIRE_BROWSER=1 but {reason}");
        }
        println!("SKIPPED the browser test of the HTML view: {reason}");
        return;
    };
    let mut history = lab_kv_history(&LabHistory {
        seed: 11,
        clients: 5,
        operations: 400,
        keys: Keys::Random(3),
        puts: true,
    });
    history.push(Operation::pending(
        7,
        KvInput::append("0", "x 7 0 y"),
        5_000,
    ));
    history.push(Operation::pending(8, KvInput::get("1"), 5_000));
    let mutated = mutate_read(&mut history, 200).expect("a get to mutate");
    let result = check(&KvModel, &history, Budget::DEFAULT, 2).unwrap();
    assert_eq!(result.verdict, Verdict::Illegal);

    let dir = std::env::temp_dir().join(format!("raftlab-view-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("profile")).unwrap();
    let page = dir.join("view.html");
    std::fs::write(
        &page,
        render_html(&KvModel, &history, &result, "browser test"),
    )
    .unwrap();
    let dom = rendered_dom(&browser, &page, &dir.join("profile"));
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        dom.contains("data-rendered=\"true\""),
        "the page's script did not finish"
    );
    let bars = bars(&dom);
    let indexes: Vec<usize> = bars.keys().copied().collect();
    assert_eq!(
        indexes,
        (0..history.len()).collect::<Vec<_>>(),
        "one bar per operation"
    );
    let has = |op: usize, class: &str| bars[&op].iter().any(|c| c == class);
    assert!(has(history.len() - 2, "pending"));
    assert!(has(history.len() - 1, "dropped"));

    let highlighted: Vec<usize> = bars
        .keys()
        .copied()
        .filter(|&op| has(op, "first-unplaceable"))
        .collect();
    for partition in &result.partitions {
        match &partition.outcome {
            Outcome::Illegal {
                prefix,
                unplaceable,
                ..
            } => {
                assert_eq!(highlighted, vec![unplaceable[0]]);
                assert!(unplaceable.iter().all(|&op| has(op, "unplaceable")));
                assert!(prefix.iter().all(|&op| has(op, "prefix")));
                assert!(partition.operations.contains(&mutated));
            }
            Outcome::Ok { order } => {
                assert_eq!(order.len(), partition.operations.len());
                for (n, &op) in order.iter().enumerate() {
                    assert!(has(op, "linearized"), "op {op}");
                    assert!(dom.contains(&format!("data-op=\"{op}\" data-order=\"{}\"", n + 1)));
                }
            }
            Outcome::Unknown => panic!("no partition should be undecided"),
        }
    }
}
