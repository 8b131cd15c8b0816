//! What every test against a real etcd needs: the binary, and a runtime
//! to drive it from a plain #[test].

use realetcd::harness;
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
