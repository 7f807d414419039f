//! The HTML view of a checked history, like porcupine's visualization: one
//! self-contained file (inline CSS and JS, the data as inline JSON, no fetches).
//!
//! One section per partition, chosen with a selector (the first illegal partition is
//! shown first); in each, one row per client and one bar per operation from its call to
//! its return, positioned by the rank of its times so that short operations stay
//! visible. Hovering a bar shows its input, output, times and the state after it. For a
//! linearizable partition the bars carry their place in the linearization, listed below;
//! for an illegal one the longest linearizable prefix is marked, and the operations that
//! cannot come next are highlighted, the first (the one that had to take effect before
//! its return) most.
//!
//! DOM hooks (for tests and scripts): every bar is `div.op[data-op=N]` with N the
//! operation's index in the history, inside `section.partition[data-partition=P]`;
//! classes `linearized` (with `data-order`, from 1), `prefix`, `unplaceable`,
//! `first-unplaceable`, `pending` (never returned) and `dropped` (a read that never
//! returned, not checked). The page sets `body[data-rendered=true]` when done.

use std::path::Path;

use serde_json::{json, Value};

use super::report::{shorten, summary_line};
use super::{states_along, CheckResult, Model, ModelOperation, Outcome, PartitionResult};

/// Descriptions of operations and states are cut to this many characters in the view,
/// except the operation the view highlights and the state where the search failed.
const VIEW_TEXT_LIMIT: usize = 600;
/// Bar labels are cut shorter.
const LABEL_LIMIT: usize = 48;

/// The view of `history` checked into `result`, as one HTML document.
pub fn render_html<M: Model>(
    model: &M,
    history: &[ModelOperation<M>],
    result: &CheckResult,
    title: &str,
) -> String {
    let partitions: Vec<Value> = result
        .partitions
        .iter()
        .map(|partition| partition_json(model, history, partition))
        .collect();
    let data = json!({
        "title": title,
        "verdict": result.verdict.as_str(),
        "summary": summary_line(result),
        "operations": result.operations,
        "steps": result.steps,
        "budget": result.budget.0,
        "partitions": partitions,
    });
    let title = escape_html(title);
    let (before, after) = TEMPLATE.split_once("{{DATA}}").unwrap_or((TEMPLATE, ""));
    let mut page = before.replace("{{TITLE}}", &title);
    page.push_str(&script_safe_json(&data));
    page.push_str(&after.replace("{{TITLE}}", &title));
    page
}

/// Writes the view to `path`.
pub fn write_html<M: Model>(
    path: &Path,
    model: &M,
    history: &[ModelOperation<M>],
    result: &CheckResult,
    title: &str,
) -> std::io::Result<()> {
    std::fs::write(path, render_html(model, history, result, title))
}

fn partition_json<M: Model>(
    model: &M,
    history: &[ModelOperation<M>],
    partition: &PartitionResult,
) -> Value {
    let (order, unplaceable, state): (&[usize], &[usize], Option<&str>) = match &partition.outcome {
        Outcome::Ok { order } => (order, &[], None),
        Outcome::Illegal {
            prefix,
            unplaceable,
            state,
        } => (prefix, unplaceable, Some(state)),
        Outcome::Unknown => (&[], &[], None),
    };
    let mut place = vec![None; history.len()];
    for (n, &index) in order.iter().enumerate() {
        place[index] = Some(n);
    }
    let states = states_along(model, history, order);
    let first_unplaceable = unplaceable.first().copied();
    let op_json = |index: usize, dropped: bool| {
        let operation = &history[index];
        let text = model.describe_operation(&operation.input, operation.known_output());
        let mut classes = vec!["op"];
        let order_number = place[index].map(|n| n + 1);
        if order_number.is_some() {
            classes.push(if state.is_some() {
                "prefix"
            } else {
                "linearized"
            });
        }
        if unplaceable.contains(&index) {
            classes.push("unplaceable");
        }
        if first_unplaceable == Some(index) {
            classes.push("first-unplaceable");
        }
        if operation.return_time.is_none() {
            classes.push("pending");
        }
        if dropped {
            classes.push("dropped");
        }
        let after = place[index]
            .and_then(|n| states.get(n))
            .map(|s| shorten(&model.describe_state(s), VIEW_TEXT_LIMIT));
        let full = first_unplaceable == Some(index);
        json!({
            "i": index,
            "client": operation.client_id,
            "call": operation.call,
            "ret": operation.return_time,
            "label": shorten(&text, LABEL_LIMIT),
            "text": if full { text.clone() } else { shorten(&text, VIEW_TEXT_LIMIT) },
            "cls": classes.join(" "),
            "order": order_number,
            "after": after,
        })
    };
    let mut ops: Vec<Value> = partition
        .operations
        .iter()
        .map(|&i| op_json(i, false))
        .collect();
    ops.extend(partition.dropped.iter().map(|&i| op_json(i, true)));
    json!({
        "name": partition.name,
        "verdict": partition.outcome.verdict().as_str(),
        "steps": partition.steps,
        "checked": partition.operations.len(),
        "ops": ops,
        "order": order,
        "unplaceable": unplaceable,
        "state": state,
    })
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` only occur inside
/// JSON strings, where their `\u` escapes mean the same.
fn script_safe_json(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{TITLE}}</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 17px; margin: 0 0 4px; }
.summary { margin: 0 0 10px; }
.verdict-ok { color: #17663a; } .verdict-illegal { color: #b00020; } .verdict-unknown { color: #8a5a00; }
.controls { margin-bottom: 10px; }
.partition[hidden] { display: none; }
.timeline { position: relative; overflow-x: auto; border: 1px solid #ddd; background: #fafafa; }
.row { position: relative; border-bottom: 1px solid #eee; }
.row-label { position: sticky; left: 0; z-index: 2; display: inline-block; width: 86px; padding: 2px 4px;
  background: #f0f0f0; border-right: 1px solid #ddd; height: 100%; box-sizing: border-box; font-size: 12px; }
.op { position: absolute; height: 18px; box-sizing: border-box; border: 1px solid #8aa; background: #dde8ee;
  border-radius: 3px; font-size: 11px; line-height: 16px; padding: 0 3px; white-space: nowrap; overflow: hidden;
  cursor: default; }
.op.linearized, .op.prefix { background: #c9ecd4; border-color: #3a8a55; }
.op.unplaceable { background: #ffe0b3; border-color: #d07a00; }
.op.first-unplaceable { background: #ffb3b3; border: 2px solid #b00020; z-index: 1; }
.op.pending { border-right-style: dashed; }
.op.dropped { opacity: 0.45; border-style: dotted; }
.op.hl { outline: 2px solid #0057b8; z-index: 3; }
.badge { font-weight: 600; margin-right: 3px; }
.deadline { position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px dashed #b00020; z-index: 1; }
#tip { position: fixed; display: none; max-width: 560px; background: #fff; border: 1px solid #999;
  box-shadow: 0 2px 6px rgba(0,0,0,.2); padding: 6px 8px; z-index: 10; white-space: pre-wrap;
  word-break: break-all; font-size: 12px; pointer-events: none; }
.details { margin-top: 10px; }
.details pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: 6px; max-height: 240px; overflow: auto; }
.details ol, .details ul { max-height: 320px; overflow: auto; margin: 4px 0; }
.details li.first { color: #b00020; font-weight: 600; }
</style>
</head>
<body>
<h1>{{TITLE}}</h1>
<p class="summary" id="summary"></p>
<div class="controls"><label>Partition <select id="partition-select"></select></label></div>
<div id="partitions"></div>
<div id="tip"></div>
<script type="application/json" id="history-data">{{DATA}}</script>
<script>
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("history-data").textContent);
  const STEP = 14, LANE = 22, LEFT = 96, PAD = 40;
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const summary = document.getElementById("summary");
  summary.textContent = data.summary;
  summary.classList.add("verdict-" + data.verdict);
  const tip = document.getElementById("tip");
  const select = document.getElementById("partition-select");
  const container = document.getElementById("partitions");
  const sections = [];

  function tipText(op) {
    const lines = ["op " + op.i + " · client " + op.client,
      "call " + op.call + " → " + (op.ret === null ? "never returned" : "return " + op.ret),
      op.text];
    if (op.order !== null) lines.push((op.cls.indexOf("prefix") >= 0 ? "prefix #" : "linearized #") + op.order);
    if (op.cls.indexOf("first-unplaceable") >= 0) lines.push("cannot take effect after the prefix, and must before it returns");
    else if (op.cls.indexOf("unplaceable") >= 0) lines.push("cannot take effect after the prefix");
    if (op.cls.indexOf("dropped") >= 0) lines.push("a read that never returned: not checked");
    if (op.after !== null) lines.push("state after: " + op.after);
    return lines.join("\n");
  }

  function renderPartition(p, index) {
    const section = el("section", "partition");
    section.dataset.partition = String(index);
    section.dataset.verdict = p.verdict;
    const head = el("h2", "verdict-" + p.verdict,
      "partition " + p.name + ": " + p.verdict + " (" + p.checked + " operations checked, " + p.steps + " steps)");
    head.style.fontSize = "15px";
    section.appendChild(head);
    const times = new Set();
    p.ops.forEach(op => { times.add(op.call); if (op.ret !== null) times.add(op.ret); });
    const sorted = Array.from(times).sort((a, b) => a - b);
    const rank = new Map(sorted.map((t, k) => [t, k]));
    const x = t => LEFT + rank.get(t) * STEP;
    const end = LEFT + sorted.length * STEP + PAD;
    const byClient = new Map();
    p.ops.slice().sort((a, b) => a.call - b.call || a.i - b.i).forEach(op => {
      if (!byClient.has(op.client)) byClient.set(op.client, []);
      byClient.get(op.client).push(op);
    });
    const timeline = el("div", "timeline");
    const bars = new Map();
    Array.from(byClient.keys()).sort((a, b) => a - b).forEach(client => {
      const row = el("div", "row");
      row.dataset.client = String(client);
      const laneEnds = [];
      byClient.get(client).forEach(op => {
        const left = x(op.call);
        const right = op.ret === null ? end : x(op.ret);
        let lane = laneEnds.findIndex(e => e < left);
        if (lane < 0) { lane = laneEnds.length; laneEnds.push(0); }
        laneEnds[lane] = right;
        const bar = el("div", op.cls);
        bar.dataset.op = String(op.i);
        if (op.order !== null) {
          bar.dataset.order = String(op.order);
          bar.appendChild(el("span", "badge", String(op.order)));
        }
        bar.appendChild(document.createTextNode(op.label));
        bar.style.left = left + "px";
        bar.style.width = Math.max(right - left, 8) + "px";
        bar.style.top = (2 + lane * LANE) + "px";
        bar.addEventListener("mouseover", ev => {
          tip.textContent = tipText(op);
          tip.style.display = "block";
          tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 580) + "px";
          tip.style.top = (ev.clientY + 14) + "px";
        });
        bar.addEventListener("mouseout", () => { tip.style.display = "none"; });
        bars.set(op.i, bar);
        row.appendChild(bar);
      });
      row.style.height = (4 + Math.max(laneEnds.length, 1) * LANE) + "px";
      row.style.width = (end + PAD) + "px";
      row.insertBefore(el("span", "row-label", "client " + client), row.firstChild);
      timeline.appendChild(row);
    });
    const opsById = new Map(p.ops.map(op => [op.i, op]));
    if (p.unplaceable.length > 0) {
      const first = opsById.get(p.unplaceable[0]);
      if (first && first.ret !== null) {
        const line = el("div", "deadline");
        line.style.left = x(first.ret) + "px";
        line.title = "op " + first.i + " had to take effect by here";
        timeline.appendChild(line);
      }
    }
    section.appendChild(timeline);
    if (p.unplaceable.length > 0) {
      const first = opsById.get(p.unplaceable[0]);
      if (first) section.dataset.scrollTo = String(Math.max(x(first.call) - 400, 0));
    }
    section.appendChild(details(p, opsById, bars));
    return section;
  }

  function listItem(op, bars, cls) {
    const item = el("li", cls, "op " + op.i + " (client " + op.client + "): " + op.label);
    item.dataset.op = String(op.i);
    item.title = op.text;
    item.addEventListener("mouseover", () => { const b = bars.get(op.i); if (b) b.classList.add("hl"); });
    item.addEventListener("mouseout", () => { const b = bars.get(op.i); if (b) b.classList.remove("hl"); });
    return item;
  }

  function details(p, opsById, bars) {
    const box = el("div", "details");
    if (p.verdict === "ok") {
      box.appendChild(el("div", "", "Linearization order (" + p.order.length + " operations):"));
    } else if (p.verdict === "illegal") {
      box.appendChild(el("div", "", "Longest linearizable prefix: " + p.order.length + " of " + p.checked + " operations."));
    } else {
      box.appendChild(el("div", "", "The budget of " + data.budget + " steps ran out before this partition was decided."));
    }
    if (p.order.length > 0) {
      const list = el("ol", p.verdict === "ok" ? "order" : "prefix-list");
      p.order.forEach(i => { const op = opsById.get(i); if (op) list.appendChild(listItem(op, bars)); });
      box.appendChild(list);
    }
    if (p.verdict === "illegal") {
      box.appendChild(el("div", "", "State after the prefix:"));
      box.appendChild(el("pre", "state", p.state));
      box.appendChild(el("div", "", "None of these can take effect next (the first had to before it returned):"));
      const list = el("ul", "unplaceable-list");
      p.unplaceable.forEach((i, k) => {
        const op = opsById.get(i);
        if (op) list.appendChild(listItem(op, bars, k === 0 ? "first" : ""));
      });
      box.appendChild(list);
    }
    return box;
  }

  let shown = data.partitions.findIndex(p => p.verdict === "illegal");
  if (shown < 0) shown = data.partitions.findIndex(p => p.verdict === "unknown");
  if (shown < 0) shown = 0;
  data.partitions.forEach((p, index) => {
    const option = el("option", "", p.name + " — " + p.verdict + " (" + p.ops.length + " ops)");
    option.value = String(index);
    select.appendChild(option);
    const section = renderPartition(p, index);
    section.hidden = index !== shown;
    sections.push(section);
    container.appendChild(section);
  });
  const scroll = () => sections.forEach(s => {
    if (!s.hidden && s.dataset.scrollTo) s.querySelector(".timeline").scrollLeft = Number(s.dataset.scrollTo);
  });
  select.value = String(shown);
  select.addEventListener("change", () => {
    sections.forEach((s, index) => { s.hidden = String(index) !== select.value; });
    scroll();
  });
  scroll();
  document.body.dataset.rendered = "true";
})();
</script>
</body>
</html>
"##;
