//! `faultline check FILE`: verdicts and exit codes through the command, and
//! one-line errors (exit code 2) for malformed input.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use checker::command::{CheckFileOptions, InputFormat, ModelKind, check_file};
use checker::history::{OpResult, Response};
use checker::jsonl;
use support::generate::{GenConfig, generate};

fn oracles() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/oracles"))
}

fn options(model: ModelKind, format: InputFormat) -> CheckFileOptions {
    CheckFileOptions {
        model,
        format,
        timeout: Duration::from_secs(60),
        partition: true,
    }
}

fn temp_file(content: &str, suffix: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(suffix)
        .tempfile()
        .expect("temp file");
    f.write_all(content.as_bytes()).expect("write");
    f
}

/// The error for `content` read as `format` with `model`: one line naming the file and line.
fn input_error(content: &str, model: ModelKind, format: InputFormat) -> (String, Option<usize>) {
    let f = temp_file(content, ".txt");
    let err = check_file(f.path(), &options(model, format)).expect_err("bad input is rejected");
    let text = err.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(
        text.starts_with(&f.path().display().to_string()),
        "names the file: {text}"
    );
    (text, err.line)
}

#[test]
fn jepsen_logs_through_the_command() {
    let dir = oracles().join("jepsen-etcd");
    let verdicts = std::fs::read_to_string(dir.join("verdicts.csv")).expect("verdicts.csv");
    for line in verdicts.lines().skip(1) {
        let (file, linearizable) = line.split_once(',').expect("file,verdict");
        let out = check_file(
            &dir.join(file),
            &options(ModelKind::Register, InputFormat::JepsenLog),
        )
        .expect("a valid log");
        let expected = if linearizable.trim() == "true" { 0 } else { 1 };
        assert_eq!(out.exit_code(), expected, "{file}\n{out}");
        // Auto-detection reads the same file the same way.
        let auto = check_file(
            &dir.join(file),
            &options(ModelKind::Register, InputFormat::Auto),
        )
        .expect("a valid log");
        assert_eq!(auto.exit_code(), expected);
    }
}

#[test]
fn a_kv_violation_is_explained() {
    let out = check_file(
        &oracles().join("porcupine-kv/c10-bad.txt"),
        &options(ModelKind::Kv, InputFormat::Edn),
    )
    .expect("a valid history");
    assert_eq!(out.exit_code(), 1);
    let text = out.to_string();
    assert!(text.contains("linearizability"), "{text}");
    assert!(text.contains("VIOLATED"), "{text}");
    assert!(text.contains("longest linearizable prefix"), "{text}");
    assert!(text.contains("operation "), "{text}");
    // Jepsen names who issues operations processes: so do the explanation
    // and the operations listed.
    assert!(text.contains("(process "), "{text}");
    assert!(!text.contains("client"), "{text}");
}

#[test]
fn etcd_histories_in_faultline_format() {
    let history = generate(&GenConfig {
        operations: 400,
        ..Default::default()
    });
    let good = temp_file(&jsonl::to_string(&history, None), ".jsonl");
    let out = check_file(
        good.path(),
        &options(ModelKind::Etcd, InputFormat::Faultline),
    )
    .expect("valid");
    assert_eq!(out.exit_code(), 0, "{out}");
    assert!(
        out.report
            .result("linearizability")
            .is_some_and(|r| r.verdict.is_pass())
    );
    // Without an end record the end rules that need one are said to be
    // skipped, never reported as passed nor left out silently.
    let skipped: Vec<&str> = out.skipped.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(skipped, vec!["end.hashkv", "end.liveness", "end.members"]);
    assert!(out.report.result("end.hashkv").is_none());
    assert!(out.report.result("end.members").is_none());
    assert!(
        out.to_string()
            .contains("skipped: the file has no end record with the members' HashKV"),
        "{out}"
    );

    // Make one read return a value nobody wrote.
    let mut broken = history.clone();
    let read = broken
        .operations
        .iter_mut()
        .find(|o| matches!(&o.result, OpResult::Ok(Response::Range(r)) if r.kvs.len() == 1))
        .expect("a read of one key");
    if let OpResult::Ok(Response::Range(r)) = &mut read.result {
        r.kvs[0].value = "never written".into();
    }
    let bad = temp_file(&jsonl::to_string(&broken, None), ".jsonl");
    let out = check_file(bad.path(), &options(ModelKind::Etcd, InputFormat::Auto)).expect("valid");
    assert_eq!(out.exit_code(), 1, "{out}");
    assert!(out.to_string().contains("never written"), "{out}");
}

#[test]
fn a_timeout_gives_unknown() {
    let path = oracles().join("porcupine-kv/c50-bad.txt");
    let mut opts = options(ModelKind::Kv, InputFormat::Edn);
    opts.partition = false;
    opts.timeout = Duration::ZERO;
    let out = check_file(&path, &opts).expect("valid");
    assert_eq!(out.exit_code(), 3, "{out}");
    assert!(out.to_string().contains("UNKNOWN"));
}

#[test]
fn truncated_json_line() {
    let history = generate(&GenConfig {
        operations: 20,
        ..Default::default()
    });
    let text = jsonl::to_string(&history, None);
    let truncated = &text[..text.len() - 30];
    let (msg, line) = input_error(truncated, ModelKind::Etcd, InputFormat::Faultline);
    assert_eq!(line, Some(text.lines().count()), "{msg}");
    assert!(msg.contains("EOF while parsing"), "{msg}");
}

#[test]
fn unknown_operation() {
    let edn = "{:process 0, :type :invoke, :f :frob, :key \"a\", :value 1}\n";
    let (msg, line) = input_error(edn, ModelKind::Kv, InputFormat::Edn);
    assert_eq!(line, Some(1));
    assert!(msg.contains("unknown operation :frob"), "{msg}");
    let jepsen = "INFO  jepsen.util - 0\t:invoke\t:frob\t1\n";
    let (msg, _) = input_error(jepsen, ModelKind::Register, InputFormat::JepsenLog);
    assert!(msg.contains("unknown operation :frob"), "{msg}");
    let json = r#"{"type":"op","id":1,"client":1,"call":1,"ret":2,"request":{"frob":{}},"result":{"unknown":""}}"#;
    let (msg, line) = input_error(json, ModelKind::Etcd, InputFormat::Faultline);
    assert_eq!(line, Some(1));
    assert!(msg.contains("unknown variant `frob`"), "{msg}");
}

#[test]
fn a_return_without_a_call() {
    let edn = "{:process 0, :type :invoke, :f :get, :key \"a\", :value nil}\n\
               {:process 0, :type :ok, :f :get, :key \"a\", :value \"\"}\n\
               {:process 1, :type :ok, :f :get, :key \"a\", :value \"\"}\n";
    let (msg, line) = input_error(edn, ModelKind::Kv, InputFormat::Edn);
    assert_eq!(line, Some(3), "{msg}");
    assert!(msg.contains("without a matching :invoke"), "{msg}");
    let log = "INFO  jepsen.util - 2\t:ok\t:read\t3\n";
    let (msg, line) = input_error(log, ModelKind::Register, InputFormat::JepsenLog);
    assert_eq!(line, Some(1), "{msg}");
    let json = r#"{"type":"op","id":1,"client":1,"call":9,"ret":2,"request":{"range":{"key":"a"}},"result":{"unknown":""}}"#;
    let (msg, _) = input_error(json, ModelKind::Etcd, InputFormat::Faultline);
    assert!(msg.contains("before its call"), "{msg}");
}

#[test]
fn an_empty_file() {
    for (model, format) in [
        (ModelKind::Etcd, InputFormat::Faultline),
        (ModelKind::Kv, InputFormat::Edn),
        (ModelKind::Register, InputFormat::JepsenLog),
    ] {
        let (msg, line) = input_error("", model, format);
        assert_eq!(line, Some(1), "{msg}");
        assert!(msg.contains("empty"), "{msg}");
    }
    let (msg, _) = input_error("; only a comment\n", ModelKind::Kv, InputFormat::Edn);
    assert!(msg.contains("no operations"), "{msg}");
}

#[test]
fn a_model_that_cannot_read_the_format() {
    let (msg, line) = input_error("{:process 0}", ModelKind::Etcd, InputFormat::Edn);
    assert_eq!(line, Some(1));
    assert!(
        msg.contains("the etcd model reads faultline JSON lines"),
        "{msg}"
    );
}

#[test]
fn a_missing_file() {
    let err = check_file(
        Path::new("/nonexistent/history.jsonl"),
        &options(ModelKind::Etcd, InputFormat::Auto),
    )
    .expect_err("missing file");
    assert_eq!(err.line, None);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/history.jsonl: cannot read")
    );
}

#[test]
fn the_readme_example_reads_and_passes() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme.find("```json\n").expect("a json example") + "```json\n".len();
    let end = start + readme[start..].find("```").expect("the example ends");
    let example = &readme[start..end];
    let file = jsonl::read_str(example).expect("the example reads");
    assert_eq!(file.history.operations.len(), 4);
    let f = temp_file(example, ".jsonl");
    let out = check_file(f.path(), &options(ModelKind::Etcd, InputFormat::Auto)).expect("valid");
    assert_eq!(out.exit_code(), 0, "{out}");
}

/// A Jepsen `independent` history (jepsen.history's fields): key 3 is
/// linearizable, key 4 reads a value nobody wrote.
const KEYED: &str = r#"{:type :invoke, :f :write, :value [3 5], :time 1000000000, :process 0, :index 0}
{:type :info, :f :start, :value :partition, :time 1200000000, :process :nemesis, :index 1}
{:type :ok, :f :write, :value [3 5], :time 1500000000, :process 0, :index 2}
{:type :invoke, :f :cas, :value [3 [5 6]], :time 1600000000, :process 1, :index 3}
{:type :ok, :f :cas, :value [3 [5 6]], :time 1700000000, :process 1, :index 4}
{:type :invoke, :f :read, :value [3 nil], :time 1800000000, :process 2, :index 5}
{:type :ok, :f :read, :value [3 6], :time 1900000000, :process 2, :index 6}
{:type :invoke, :f :write, :value [4 1], :time 2000000000, :process 0, :index 7}
{:type :info, :f :write, :value [4 1], :time 2100000000, :process 0, :index 8, :error :timeout}
{:type :invoke, :f :read, :value [4 nil], :time 2200000000, :process 3, :index 9}
{:type :ok, :f :read, :value [4 1], :time 2300000000, :process 3, :index 10}
"#;

#[test]
fn a_keyed_register_history_is_checked_per_key() {
    let good = temp_file(KEYED, ".edn");
    let out = check_file(
        good.path(),
        &options(ModelKind::Register, InputFormat::Auto),
    )
    .expect("valid");
    assert_eq!(out.exit_code(), 0, "{out}");
    let text = out.to_string();
    // Two keys, checked apart; the nemesis on the timeline at its :time.
    assert_eq!(
        out.report.stats.as_ref().map(|s| s.partitions),
        Some(2),
        "{text}"
    );
    assert!(
        text.contains("1.200 s  nemesis: :info :start :partition"),
        "{text}"
    );

    let bad = KEYED.replace("[4 1], :time 2300000000", "[4 2], :time 2300000000");
    let bad = temp_file(&bad, ".edn");
    let out =
        check_file(bad.path(), &options(ModelKind::Register, InputFormat::Edn)).expect("valid");
    assert_eq!(out.exit_code(), 1, "{out}");
    let text = out.to_string();
    // Operations are named by Jepsen's :index; the timed-out write keeps its :error.
    assert!(
        text.contains("operation 9 (process 3: key 4: read returned 2)"),
        "{text}"
    );
    assert_eq!(
        out.description(7).as_deref(),
        Some("process 0: key 4: write 1 with unknown outcome (error :timeout)")
    );
}

#[test]
fn bad_keyed_histories_give_one_line_naming_the_line() {
    let other_key = KEYED.replace(":value [3 6], :time", ":value [5 6], :time");
    let (msg, line) = input_error(&other_key, ModelKind::Register, InputFormat::Edn);
    assert_eq!(line, Some(7), "{msg}");
    assert!(msg.contains("expected [3 value]"), "{msg}");
    let some_times = KEYED.replace(", :time 1900000000", "");
    let (msg, line) = input_error(&some_times, ModelKind::Register, InputFormat::Edn);
    assert_eq!(line, Some(7), "{msg}");
    assert!(
        msg.contains("expected :time on every event or on none"),
        "{msg}"
    );
    let not_a_tuple = KEYED.replace("[3 [5 6]], :time 1600000000", "[3 5], :time 1600000000");
    let (msg, line) = input_error(&not_a_tuple, ModelKind::Register, InputFormat::Edn);
    assert_eq!(line, Some(4), "{msg}");
    assert!(
        msg.contains("Jepsen independent [key value] tuples"),
        "{msg}"
    );
}

/// Jepsen logs as porcupine reads them: `:info` is an unknown outcome; a
/// `:fail :read :timed-out` took no effect (porcupine marks it unknown,
/// which is the same for a read); fields apart by any whitespace.
#[test]
fn jepsen_log_outcomes_as_porcupine_reads_them() {
    let log = "INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1 \t :invoke   :write\t2
INFO  jepsen.util - 1\t:info\t:write\t:timed-out
INFO  jepsen.util - 2\t:invoke\t:read\tnil
INFO  jepsen.util - 2\t:fail\t:read\t:timed-out
INFO  jepsen.util - 2  :invoke  :read  nil
INFO  jepsen.util - 2  :ok  :read  2
";
    let f = temp_file(log, ".log");
    let out =
        check_file(f.path(), &options(ModelKind::Register, InputFormat::Auto)).expect("valid");
    // The read of 2 is explained by the write whose outcome is unknown.
    assert_eq!(out.exit_code(), 0, "{out}");
    // Had the timed-out write certainly failed, reading 2 would not be linearizable.
    let failed = log.replace(
        "1\t:info\t:write\t:timed-out",
        "1\t:fail\t:write\t:timed-out",
    );
    let f = temp_file(&failed, ".log");
    let out =
        check_file(f.path(), &options(ModelKind::Register, InputFormat::Auto)).expect("valid");
    assert_eq!(out.exit_code(), 1, "{out}");
}
