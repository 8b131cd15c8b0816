//! What every test against a real etcd needs: the binary, and a runtime
//! to drive it from a plain #[test].

use realetcd::harness;
use realplan::{Op, Profile, Traffic};
use std::path::PathBuf;

/// The etcd binary ($FAULTLINE_ETCD, else etcd on the PATH); a test that
/// has none fails saying how to get one.
pub fn binary() -> PathBuf {
    harness::binary().unwrap_or_else(|e| {
        panic!("{e}: this test needs a real etcd (ci/test.sh installs Debian's etcd-server)")
    })
}

/// A single-threaded runtime: PR_SET_PDEATHSIG belongs to the thread that
/// started a child, so the test's own thread starts and outlives them.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The etcd mix the scenario tests send: 3 clients at 50 requests per
/// second over 10 keys, a compaction every second, and no multi-op Txn
/// (etcd-18667, which 3.4.23 has, would fail the run on its own).
#[allow(dead_code)] // not every test binary sends traffic
pub fn etcd_traffic() -> Traffic {
    Traffic {
        profile: Profile::Etcd {
            mix: vec![
                (Op::Get, 15),
                (Op::List, 15),
                (Op::StaleGet, 10),
                (Op::Put, 23),
                (Op::Delete, 5),
                (Op::CompareAndSet, 7),
                (Op::PutWithLease, 5),
                (Op::LeaseRevoke, 5),
            ],
            compact_period_ms: Some(1000),
        },
        clients: 3,
        rate: 50.0,
        keys: 10,
        key_prefix: "key".into(),
        until_ms: None,
    }
}
