//! Unit tests of the watcher groups, batching, victims, progress rules,
//! compaction cancels and restore.

use super::*;
use crate::backend::Backend;
use crate::host::testing::{Recording, env_in};
use crate::mvcc::{Mvcc, MvccOptions, WrittenEvent};
use crate::wire::api::{ResponseHeader, WatchCreateRequest, WatchResponse};
use std::sync::Arc;
use tokio::sync::mpsc;

struct Fixture {
    _dir: tempfile::TempDir,
    mvcc: Mvcc,
    store: WatchableStore,
}

async fn fixture(batch_max_revs: usize) -> Fixture {
    fixture_on(batch_max_revs, None).await
}

/// [`fixture`] reporting to `host` (the default test host panics on a
/// broken invariant; a recording one keeps it).
async fn fixture_on(batch_max_revs: usize, host: Option<Arc<Recording>>) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = env_in(dir.path());
    if let Some(host) = host {
        env.host = host;
    }
    let backend = Backend::open(env.clone(), 1000, false)
        .await
        .expect("backend");
    let (mvcc, _) = Mvcc::open(backend, env.clone(), MvccOptions::default()).expect("mvcc");
    let header = Box::new(|revision| ResponseHeader {
        revision,
        ..Default::default()
    });
    let opts = WatchOptions {
        batch_max_revs,
        ..Default::default()
    };
    let store = WatchableStore::new(mvcc.clone(), env, header, opts);
    Fixture {
        _dir: dir,
        mvcc,
        store,
    }
}

impl Fixture {
    /// Puts keys in one transaction and notifies watchers, as apply does.
    async fn put(&self, keys: &[&str]) -> i64 {
        let mut txn = self.mvcc.write().await;
        for k in keys {
            txn.put(k.as_bytes(), b"v", 0, 0).expect("put");
        }
        let (rev, events, _) = txn.end().await.expect("end");
        self.notify(rev, events);
        rev
    }

    async fn delete(&self, key: &str) -> i64 {
        let mut txn = self.mvcc.write().await;
        txn.delete_range(key.as_bytes(), &[]).expect("delete");
        let (rev, events, _) = txn.end().await.expect("end");
        self.notify(rev, events);
        rev
    }

    fn notify(&self, rev: i64, events: Vec<WrittenEvent>) {
        let changes: Vec<Change> = events
            .into_iter()
            .map(|e| Change {
                revision: rev,
                is_delete: e.is_delete,
                kv: e.kv,
            })
            .collect();
        self.store.notify(rev, &changes);
    }
}

fn create(key: &str, start: i64) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.as_bytes().to_vec(),
        range_end: vec![0],
        start_revision: start,
        ..Default::default()
    }
}

fn drain(rx: &mut mpsc::Receiver<Outbound>) -> Vec<WatchResponse> {
    let mut out = Vec::new();
    while let Ok(o) = rx.try_recv() {
        out.push(o.response);
    }
    out
}

fn event_revs(resps: &[WatchResponse]) -> Vec<i64> {
    resps
        .iter()
        .flat_map(|r| {
            r.events
                .iter()
                .filter_map(|e| e.kv.as_ref().map(|kv| kv.mod_revision))
        })
        .collect()
}

fn run<F: std::future::Future<Output = ()>>(f: F) {
    madsim::runtime::Runtime::new().block_on(f);
}

#[test]
fn synced_watchers_get_new_events_in_order() {
    run(async {
        let f = fixture(32).await;
        let (tx, mut rx) = mpsc::channel(16);
        let id = f.store.watch(1, &create("a", 0), false, tx).expect("watch");
        let first = drain(&mut rx);
        assert!(first[0].created && first[0].watch_id == id);
        let r1 = f.put(&["a1", "a2"]).await;
        let r2 = f.delete("a1").await;
        f.put(&["b"]).await; // below the watched range "a".."\0"? no: "b" >= "a"
        let got = drain(&mut rx);
        assert_eq!(
            got[0].events.len(),
            2,
            "a transaction's events arrive together"
        );
        assert_eq!(event_revs(&got), vec![r1, r1, r2, r2 + 1]);
        assert_eq!(f.store.group_sizes(), (1, 0, 0));
    });
}

#[test]
fn a_full_stream_makes_a_victim_that_is_retried() {
    run(async {
        let f = fixture(32).await;
        let (tx, mut rx) = mpsc::channel(2);
        f.store.watch(1, &create("k", 0), false, tx).expect("watch");
        for i in 0..5 {
            f.put(&[&format!("k{i}")]).await;
        }
        assert_eq!(f.store.group_sizes(), (0, 0, 1), "the stream filled up");
        let mut got = drain(&mut rx);
        f.store.sync_victims();
        f.store.sync_watchers();
        got.extend(drain(&mut rx));
        f.store.sync_victims();
        f.store.sync_watchers();
        got.extend(drain(&mut rx));
        f.store.sync_victims();
        f.store.sync_watchers();
        got.extend(drain(&mut rx));
        assert_eq!(
            event_revs(&got),
            vec![2, 3, 4, 5, 6],
            "nothing lost, nothing twice"
        );
        assert_eq!(f.store.group_sizes(), (1, 0, 0));
    });
}

/// A victim left holding responses while its stream has room breaks
/// `watch.victims-wait-only-for-room` at the next check; retried, it keeps
/// it (and one whose stream is still full keeps it too).
#[test]
fn a_victim_left_waiting_with_room_breaks_its_invariant() {
    use crate::invariants::Invariant;
    run(async {
        let host = Arc::new(Recording::default());
        let f = fixture_on(32, Some(host.clone())).await;
        let (tx, mut rx) = mpsc::channel(2);
        f.store.watch(1, &create("k", 0), false, tx).expect("watch");
        for i in 0..5 {
            f.put(&[&format!("k{i}")]).await;
        }
        assert_eq!(f.store.group_sizes(), (0, 0, 1), "the stream filled up");
        let broken = || host.broken(Invariant::VictimsWaitOnlyForRoom);
        f.store.check_victims_wait_only_for_room();
        assert_eq!(broken(), 0, "a full stream is a reason to wait");
        drain(&mut rx);
        f.store.check_victims_wait_only_for_room();
        assert_eq!(broken(), 1, "room, and not retried");
        f.store.sync_victims();
        f.store.check_victims_wait_only_for_room();
        assert_eq!(broken(), 1, "retried: nothing new");
    });
}

#[test]
fn unsynced_watchers_catch_up_in_batches_of_whole_revisions() {
    run(async {
        let f = fixture(2).await;
        for i in 0..3 {
            f.put(&[&format!("x{i}a"), &format!("x{i}b")]).await;
        }
        let (tx, mut rx) = mpsc::channel(16);
        f.store.watch(1, &create("x", 1), false, tx).expect("watch");
        assert_eq!(f.store.group_sizes(), (0, 1, 0));
        f.store.sync_watchers();
        let batch: Vec<_> = drain(&mut rx).into_iter().filter(|r| !r.created).collect();
        assert_eq!(
            event_revs(&batch),
            vec![2, 2, 3, 3],
            "two revisions, both events each"
        );
        f.store.sync_watchers();
        let rest = drain(&mut rx);
        assert_eq!(event_revs(&rest), vec![4, 4]);
        assert_eq!(f.store.group_sizes(), (1, 0, 0));
    });
}

#[test]
fn a_compacted_start_revision_cancels_the_watch() {
    run(async {
        let f = fixture(32).await;
        for i in 0..4 {
            f.put(&[&format!("c{i}")]).await;
        }
        let job = f.mvcc.compact(4).await.expect("compact");
        job.run().await.expect("compaction");
        let (tx, mut rx) = mpsc::channel(16);
        let id = f.store.watch(1, &create("c", 2), false, tx).expect("watch");
        f.store.sync_watchers();
        let got = drain(&mut rx);
        let cancel = got.iter().find(|r| r.canceled).expect("a cancel response");
        assert_eq!((cancel.watch_id, cancel.compact_revision), (id, 4));
        // As etcd: the compact revision says why, with no reason text.
        assert!(cancel.cancel_reason.is_empty());
        assert_eq!(f.store.group_sizes(), (0, 0, 0));
        // etcd's stream still holds the id: the client's cancel is
        // confirmed, once.
        assert!(f.store.cancel(1, id));
        assert!(!f.store.cancel(1, id));
        // Starting exactly at the compact revision is still allowed.
        let (tx, mut rx) = mpsc::channel(16);
        f.store.watch(1, &create("c", 4), false, tx).expect("watch");
        f.store.sync_watchers();
        assert!(drain(&mut rx).iter().all(|r| !r.canceled));
    });
}

#[test]
fn requested_progress_waits_until_the_stream_is_synced() {
    run(async {
        let f = fixture(1).await;
        for i in 0..3 {
            f.put(&[&format!("p{i}")]).await;
        }
        let (tx, mut rx) = mpsc::channel(16);
        f.store
            .watch(7, &create("p", 1), false, tx.clone())
            .expect("watch");
        assert!(
            !f.store.progress_if_sync(7, &tx),
            "an unsynced watcher holds progress back"
        );
        for _ in 0..4 {
            f.store.sync_watchers();
        }
        assert!(f.store.progress_if_sync(7, &tx));
        let got = drain(&mut rx);
        let progress = got.last().expect("progress response");
        assert_eq!(progress.watch_id, -1);
        assert_eq!(progress.header.as_ref().map(|h| h.revision), Some(4));
        let last_event = event_revs(&got).into_iter().max();
        assert_eq!(
            last_event,
            Some(4),
            "progress comes after every event up to its revision"
        );
        // A watch starting in the future holds progress back too.
        f.store
            .watch(7, &create("p", 100), false, tx.clone())
            .expect("watch");
        assert!(!f.store.progress_if_sync(7, &tx));
    });
}

#[test]
fn a_stream_without_watchers_gets_no_progress() {
    run(async {
        let f = fixture(1).await;
        f.put(&["p"]).await;
        let (tx, mut rx) = mpsc::channel(16);
        assert!(f.store.progress_if_sync(7, &tx), "nothing held back");
        assert!(drain(&mut rx).is_empty(), "no watcher to send it through");
    });
}

/// Before etcd-15220's fix, etcd's server answered every progress request
/// at once on its control stream, a stream without watchers included.
#[test]
fn etcd_15220_answers_progress_on_a_stream_without_watchers() {
    run(async {
        let f = fixture_with(WatchOptions {
            bug_progress_out_of_band: true,
            ..Default::default()
        })
        .await;
        f.put(&["p"]).await;
        let (tx, mut rx) = mpsc::channel(16);
        assert!(f.store.progress_if_sync(7, &tx));
        let got = drain(&mut rx);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].watch_id, -1);
        assert_eq!(got[0].header.as_ref().map(|h| h.revision), Some(2));
    });
}

#[test]
fn restore_resends_nothing_already_delivered() {
    run(async {
        let f = fixture(32).await;
        let (tx, mut rx) = mpsc::channel(64);
        f.store.watch(1, &create("r", 0), false, tx).expect("watch");
        f.put(&["r1"]).await;
        f.put(&["other"]).await;
        f.put(&["zzz"]).await;
        let mut got = drain(&mut rx);
        f.store.restore();
        assert_eq!(f.store.group_sizes(), (0, 1, 0));
        f.store.sync_watchers();
        got.extend(drain(&mut rx));
        let revs = event_revs(&got);
        let unique: std::collections::BTreeSet<i64> = revs.iter().copied().collect();
        assert_eq!(
            revs.len(),
            unique.len(),
            "an event came twice after restore: {revs:?}"
        );
        assert_eq!(f.store.group_sizes(), (1, 0, 0));
    });
}

#[test]
fn a_stream_whose_watch_requires_a_leader_ends_when_it_is_lost() {
    run(async {
        let f = fixture(32).await;
        let (stream, end) = f.store.open_stream();
        let (tx, mut rx) = mpsc::channel(16);
        assert!(matches!(
            f.store.watch(stream, &create("l", 0), true, tx.clone()),
            Err(WatchError::NoLeader)
        ));
        f.store.set_leader_known(true);
        f.store
            .watch(stream, &create("l", 0), true, tx.clone())
            .expect("watch");
        f.store
            .watch(stream, &create("m", 0), false, tx)
            .expect("watch");
        // A stream with no watch that requires a leader goes on.
        let (other, other_end) = f.store.open_stream();
        let (tx2, mut rx2) = mpsc::channel(16);
        f.store
            .watch(other, &create("n", 0), false, tx2.clone())
            .expect("watch");
        drain(&mut rx);
        drain(&mut rx2);
        f.store.leader_lost();
        // The first stream ends as a whole, as etcd cancels the gRPC
        // stream: both its watches are gone, none answered one by one.
        assert!(drain(&mut rx).is_empty());
        assert_eq!(f.store.group_sizes(), (1, 0, 0));
        let ended = |end: std::sync::Arc<tokio::sync::Notify>| async move {
            madsim::time::timeout(std::time::Duration::from_millis(1), end.notified())
                .await
                .is_ok()
        };
        assert!(ended(end).await, "the stream is told to end");
        assert!(!ended(other_end).await, "the other stream goes on");
        assert!(f.store.cancel(other, 0));
    });
}

async fn fixture_with(opts: WatchOptions) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let bug_on = opts.bug_progress_out_of_band
        || opts.bug_stale_restore_rev
        || opts.bug_drop_compaction_cancel
        || opts.bug_progress_below_start
        || opts.bug_lower_future_watch_rev;
    let env = if bug_on {
        crate::host::testing::env_with_bug_in(dir.path())
    } else {
        env_in(dir.path())
    };
    let backend = Backend::open(env.clone(), 1000, false)
        .await
        .expect("backend");
    let (mvcc, _) = Mvcc::open(backend, env.clone(), MvccOptions::default()).expect("mvcc");
    let header = Box::new(|revision| ResponseHeader {
        revision,
        ..Default::default()
    });
    let store = WatchableStore::new(mvcc.clone(), env, header, opts);
    Fixture {
        _dir: dir,
        mvcc,
        store,
    }
}

#[test]
fn etcd_15271_resends_delivered_events_after_restore() {
    run(async {
        let f = fixture_with(WatchOptions {
            bug_stale_restore_rev: true,
            ..Default::default()
        })
        .await;
        let (tx, mut rx) = mpsc::channel(64);
        f.store.watch(1, &create("r", 0), false, tx).expect("watch");
        f.put(&["r1"]).await;
        f.put(&["r2"]).await;
        let mut got = drain(&mut rx);
        f.store.restore();
        f.store.sync_watchers();
        got.extend(drain(&mut rx));
        let revs = event_revs(&got);
        let unique: std::collections::BTreeSet<i64> = revs.iter().copied().collect();
        assert_ne!(
            revs.len(),
            unique.len(),
            "with the bug, a restore resends what was delivered: {revs:?}"
        );
    });
}

#[test]
fn a_future_watch_keeps_its_start_through_a_restore() {
    for bug in [false, true] {
        run(async move {
            let f = fixture_with(WatchOptions {
                bug_lower_future_watch_rev: bug,
                ..Default::default()
            })
            .await;
            let (tx, mut rx) = mpsc::channel(64);
            f.store
                .watch(1, &create("f", 10), false, tx.clone())
                .expect("watch");
            for i in 0..3 {
                f.put(&[&format!("f{i}")]).await;
            }
            f.store.restore();
            f.store.sync_watchers();
            for i in 3..12 {
                f.put(&[&format!("f{i}")]).await;
            }
            let revs = event_revs(&drain(&mut rx));
            let before_start = revs.iter().any(|r| *r < 10);
            assert_eq!(
                before_start, bug,
                "events before the start revision: {revs:?} (bug {bug})"
            );
        });
    }
}

#[test]
fn no_progress_below_a_future_start_revision() {
    for bug in [false, true] {
        run(async move {
            let f = fixture_with(WatchOptions {
                bug_progress_below_start: bug,
                ..Default::default()
            })
            .await;
            let (tx, mut rx) = mpsc::channel(64);
            let mut req = create("f", 10);
            req.progress_notify = true;
            f.store.watch(1, &req, false, tx.clone()).expect("watch");
            f.put(&["f0"]).await;
            f.store.progress_all();
            let requested = f.store.progress_if_sync(1, &tx);
            let progress: Vec<i64> = drain(&mut rx)
                .iter()
                .filter(|r| !r.created && r.events.is_empty())
                .filter_map(|r| r.header.as_ref().map(|h| h.revision))
                .collect();
            assert_eq!(requested, bug, "requested progress answered (bug {bug})");
            assert_eq!(
                progress.iter().any(|r| *r < 9),
                bug,
                "progress below the start revision 10: {progress:?} (bug {bug})"
            );
        });
    }
}

#[test]
fn a_range_end_at_or_below_the_key_is_refused_as_empty() {
    run(async {
        let f = fixture(32).await;
        let range = |key: &str, end: &[u8]| WatchCreateRequest {
            key: key.as_bytes().to_vec(),
            range_end: end.to_vec(),
            ..Default::default()
        };
        for (key, end) in [("k", &b"c"[..]), ("k", b"k")] {
            let (tx, _rx) = mpsc::channel(16);
            assert_eq!(
                f.store.watch(1, &range(key, end), false, tx),
                Err(WatchError::EmptyRange),
                "{key}..{end:?}"
            );
        }
        // A single key, every key from here on ("\0"), a real range.
        for end in [&b""[..], &[0], b"l"] {
            let (tx, _rx) = mpsc::channel(16);
            assert!(f.store.watch(1, &range("k", end), false, tx).is_ok());
        }
    });
}
