//! Every history reader answers any input with a value or an error, never a
//! panic: arbitrary text, and real files cut short or with bytes changed,
//! duplicated or dropped (what a truncated download or a hand edit leaves).

use checker::export::{jepsen_edn, porcupine_kv};
use checker::import::independent::{key_source, keyed_register_ops};
use checker::import::{edn, edn_reader, jepsen_log, kv_ops, register_ops};
use proptest::prelude::*;

#[path = "support/edits.rs"]
mod edits;
use edits::{apply, edit};

/// A faultline history with operations of most kinds and a watch.
const FAULTLINE: &str = concat!(
    r#"{"type":"history","format":"faultline-history","version":1}"#,
    "\n",
    r#"{"type":"op","id":1,"client":1,"call":10,"ret":20,"request":{"put":{"key":"a","value":"1","lease":0,"prev_kv":false,"ignore_value":false,"ignore_lease":false}},"result":{"ok":{"put":{"header_revision":2,"prev_kv":null}}}}"#,
    "\n",
    r#"{"type":"op","id":2,"client":2,"call":15,"ret":30,"request":{"range":{"key":"a","range_end":"","limit":0,"revision":0,"keys_only":false,"count_only":false,"serializable":false}},"result":{"ok":{"range":{"header_revision":2,"kvs":[{"key":"a","value":"1","create_revision":2,"mod_revision":2,"version":1,"lease":0}],"count":1,"more":false}}}}"#,
    "\n",
    r#"{"type":"op","id":3,"client":1,"call":40,"ret":70,"request":{"delete_range":{"key":"a","range_end":"","prev_kv":false}},"result":{"unknown":"request timed out"}}"#,
    "\n",
    r#"{"type":"op","id":4,"client":3,"call":50,"ret":60,"request":{"compact":{"revision":2}},"result":{"fail":"future_revision"}}"#,
    "\n",
);

/// Jepsen's etcd log layout, as porcupine's test files have it.
const JEPSEN_LOG: &str = "\
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:ok\t:read\tnil
INFO  jepsen.util - 2\t:invoke\t:write\t3
INFO  jepsen.util - 3\t:invoke\t:cas\t[3 4]
INFO  jepsen.util - 2\t:ok\t:write\t3
INFO  jepsen.util - 3\t:fail\t:cas\t[3 4]
INFO  jepsen.util - 4\t:invoke\t:read\tnil
INFO  jepsen.util - 4\t:info\t:read\t:timed-out
";

/// A Jepsen history in EDN, registers and a keyed register.
const EDN: &str = r#"
{:type :invoke, :f :write, :value 1, :process 0, :time 10, :index 0}
{:type :ok, :f :write, :value 1, :process 0, :time 20, :index 1}
{:type :invoke, :f :read, :value nil, :process 1, :time 30, :index 2}
{:type :ok, :f :read, :value 1, :process 1, :time 40, :index 3}
{:type :invoke, :f :cas, :value [1 2], :process 2, :time 50, :index 4}
{:type :info, :f :cas, :value [1 2], :process 2, :time 60, :index 5, :error :timeout}
{:type :invoke, :f :write, :value [:k 3], :process 3, :time 70, :index 6}
"#;

/// A Jepsen `independent` history: keyed registers, a nemesis, errors.
const KEYED_EDN: &str = r#"
{:type :invoke, :f :write, :value [3 5], :time 10, :process 0, :index 0}
{:type :info, :f :start, :value nil, :time 15, :process :nemesis, :index 1}
{:type :ok, :f :write, :value [3 5], :time 20, :process 0, :index 2}
{:type :invoke, :f :cas, :value [3 [5 6]], :time 30, :process 1, :index 3}
{:type :invoke, :f :read, :value ["k" nil], :time 35, :process 2, :index 4}
{:type :ok, :f :read, :value ["k" nil], :time 36, :process 2, :index 5}
{:type :fail, :f :cas, :value [3 [5 6]], :time 40, :process 1, :index 6, :error [:compare "no"]}
{:type :invoke, :f :read, :value [3 nil], :time 50, :process 3, :index 7}
{:type :info, :f :read, :value [3 nil], :time 60, :process 3, :index 8, :error :timeout}
{:type :info, :f :stop, :value "healed", :time 70, :process :nemesis, :index 9}
"#;

/// Each reader, on `text`: whatever it returns, it returns.
fn read_everything(text: &str) {
    if let Ok(file) = checker::jsonl::read_str(text) {
        // What an exporter writes reads back: the export is never bad input.
        if let Ok((edn_text, _)) = jepsen_edn::to_edn(&file.history)
            && !edn_text.is_empty()
        {
            keyed_register_ops(&edn::import(&edn_text).expect("an exported EDN history"))
                .expect("exported keyed register operations");
        }
        if let Ok((kv_text, _)) = porcupine_kv::to_text(&file.history)
            && !kv_text.is_empty()
        {
            kv_ops(&edn::import(&kv_text).expect("an exported kv history"))
                .expect("exported kv operations");
        }
    }
    let _ = edn_reader::read_all(text);
    let _ = edn_reader::read_one(text);
    for imported in [edn::import(text), jepsen_log::import(text)]
        .into_iter()
        .flatten()
    {
        let _ = register_ops(&imported);
        let _ = kv_ops(&imported);
        let _ = key_source(&imported);
        let _ = keyed_register_ops(&imported);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        read_everything(&text);
    }

    #[test]
    fn edited_faultline_histories_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        read_everything(&apply(FAULTLINE, &edits));
    }

    #[test]
    fn edited_jepsen_logs_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        read_everything(&apply(JEPSEN_LOG, &edits));
    }

    #[test]
    fn edited_edn_histories_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        read_everything(&apply(EDN, &edits));
    }

    #[test]
    fn edited_keyed_edn_histories_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        read_everything(&apply(KEYED_EDN, &edits));
    }
}

/// The unedited inputs are valid: the properties above start from files the
/// readers accept, so an edit is what makes them fail.
#[test]
fn the_starting_files_are_read() {
    checker::jsonl::read_str(FAULTLINE).expect("the faultline history");
    let log = jepsen_log::import(JEPSEN_LOG).expect("the Jepsen log");
    register_ops(&log).expect("register operations");
    let edn = edn::import(EDN).expect("the EDN history");
    assert!(!edn_reader::read_all(EDN).expect("EDN forms").is_empty());
    let _ = kv_ops(&edn);
    let keyed = edn::import(KEYED_EDN).expect("the keyed EDN history");
    // The write, the read, and the read without an outcome; the failed cas
    // is dropped.
    assert_eq!(
        keyed_register_ops(&keyed).expect("keyed registers").len(),
        3
    );
    assert_eq!(keyed.annotations.len(), 2);
    let file = checker::jsonl::read_str(FAULTLINE).expect("the faultline history");
    jepsen_edn::to_edn(&file.history).expect("the faultline history exports");
}

/// Deep nesting is an error, not a stack overflow, in every layout.
#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(edn_reader::read_all(&deep).is_err());
    assert!(edn::import(&deep).is_err());
    // A keyed value nested deep inside an operation map.
    let keyed = format!(
        "{{:process 0, :type :invoke, :f :write, :value [3 {}1{}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(
        edn::import(&keyed)
            .unwrap_err()
            .message
            .contains("nested more than")
    );
    let json = format!(
        "{}\n{{\"type\":\"op\",\"request\":{}1{}}}\n",
        r#"{"type":"history","format":"faultline-history","version":1}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(checker::jsonl::read_str(&json).is_err());
}
