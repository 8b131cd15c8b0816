//! The watchable store: watchers in synced, unsynced and victim groups.
//! New changes go straight to synced watchers; unsynced watchers catch up
//! from the MVCC history in batches (at most `batch_max_revs` revisions a
//! response, never splitting a revision); watchers whose stream was full
//! become victims and are retried. A watcher whose next revision was
//! compacted is cancelled with the compact revision.

use super::watcher::{Change, Group, StreamSender, Watcher};
use crate::coverage::Point;
use crate::failpoint::Failpoint;
use crate::host::MemberEnv;
use crate::invariants::Invariant;
use crate::mvcc::Mvcc;
use crate::wire::api::{ResponseHeader, WatchCreateRequest, WatchFilter, WatchResponse};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Watch ids are per stream; a watcher is (stream, watch id).
pub type WatcherKey = (u64, i64);

/// Victim ticks per check that no victim waits with room
/// (`watch.victims-wait-only-for-room`).
const VICTIM_CHECK_EVERY: u64 = 10;

#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    pub batch_max_revs: usize,
    pub sync_interval: Duration,
    pub victim_interval: Duration,
    pub progress_interval: Duration,
    /// etcd-15220: requested progress is answered even when watchers of
    /// the stream are not synced.
    pub bug_progress_out_of_band: bool,
    /// etcd-15271: restore moves synced watchers with a stale minimum revision.
    pub bug_stale_restore_rev: bool,
    /// etcd-17529: a compaction cancel that could not be sent is dropped.
    pub bug_drop_compaction_cancel: bool,
    /// etcd-20221: progress notifications go to watchers whose start
    /// revision is still ahead of the store (PR 20229 reverted).
    pub bug_progress_below_start: bool,
    /// etcd-20221-restore: resync lowers a future watch's next revision to
    /// the current one after a restore moved it to the unsynced group (PR
    /// 20281 reverted).
    pub bug_lower_future_watch_rev: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            batch_max_revs: 32,
            sync_interval: Duration::from_millis(20),
            victim_interval: Duration::from_millis(10),
            progress_interval: Duration::from_secs(1),
            bug_progress_out_of_band: false,
            bug_stale_restore_rev: false,
            bug_drop_compaction_cancel: false,
            bug_progress_below_start: false,
            bug_lower_future_watch_rev: false,
        }
    }
}

struct Inner {
    mvcc: Mvcc,
    env: MemberEnv,
    header: Box<dyn Fn(i64) -> ResponseHeader + Send + Sync>,
    watchers: Mutex<BTreeMap<WatcherKey, Watcher>>,
    /// Per stream: the next watch id to hand out.
    next_ids: Mutex<BTreeMap<u64, i64>>,
    /// Watches a compaction cancelled: etcd's stream still holds their ids
    /// (its watchStream forgets an id only when the client cancels it or
    /// the stream closes), so a client's cancel of one is confirmed and its
    /// id stays taken.
    compacted_away: Mutex<std::collections::BTreeSet<WatcherKey>>,
    next_stream: std::sync::atomic::AtomicU64,
    /// Per open stream: how [`WatchableStore::leader_lost`] tells its task
    /// to end the stream.
    stream_ends: Mutex<BTreeMap<u64, Arc<tokio::sync::Notify>>>,
    /// The newest revision handed to `notify`: everything up to it is
    /// readable from history. Progress and catch-up never go past it, so a
    /// revision the store already counts but has not yet notified cannot
    /// be reported as delivered (etcd notifies under the same lock).
    revision: std::sync::atomic::AtomicI64,
    /// The member knows a leader (the raft loop says so on every change).
    leader_known: std::sync::atomic::AtomicBool,
    opts: WatchOptions,
}

#[derive(Clone)]
pub struct WatchableStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    #[error("mvcc: watch id {0} already exists on this stream")]
    DuplicateId(i64),
    /// etcd's ErrEmptyWatcherRange: a range end at or below the key
    /// selects nothing ("\0", "every key from here on", excepted).
    #[error("mvcc: watcher range is empty")]
    EmptyRange,
    /// etcd's ErrGRPCNoLeader: a watch that requires a leader, asked of a
    /// member that knows none (etcd's stream interceptor refuses the
    /// stream at once).
    #[error("etcdserver: no leader")]
    NoLeader,
}

impl WatchableStore {
    pub fn new(
        mvcc: Mvcc,
        env: MemberEnv,
        header: Box<dyn Fn(i64) -> ResponseHeader + Send + Sync>,
        opts: WatchOptions,
    ) -> Self {
        let revision = mvcc.current_revision();
        WatchableStore {
            inner: Arc::new(Inner {
                mvcc,
                env,
                header,
                watchers: Mutex::new(BTreeMap::new()),
                next_ids: Mutex::new(BTreeMap::new()),
                compacted_away: Mutex::new(std::collections::BTreeSet::new()),
                next_stream: std::sync::atomic::AtomicU64::new(1),
                stream_ends: Mutex::new(BTreeMap::new()),
                revision: std::sync::atomic::AtomicI64::new(revision),
                leader_known: std::sync::atomic::AtomicBool::new(false),
                opts,
            }),
        }
    }

    /// The newest revision watchers have been told about.
    pub fn revision(&self) -> i64 {
        self.inner
            .revision
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the member knows a leader now: a watch requiring one is
    /// refused while it knows none.
    pub fn set_leader_known(&self, known: bool) {
        self.inner
            .leader_known
            .store(known, std::sync::atomic::Ordering::SeqCst);
    }

    /// A new stream: its id, and what is notified when the stream must end
    /// (the member lost its leader and a watch on it required one).
    pub fn open_stream(&self) -> (u64, Arc<tokio::sync::Notify>) {
        let stream = self
            .inner
            .next_stream
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let end = Arc::new(tokio::sync::Notify::new());
        self.inner.stream_ends.lock().insert(stream, end.clone());
        (stream, end)
    }

    pub fn options(&self) -> WatchOptions {
        self.inner.opts
    }

    fn header(&self, rev: i64) -> ResponseHeader {
        (self.inner.header)(rev)
    }

    /// Registers a watcher and queues its "created" response ahead of any
    /// event. Returns the watch id.
    pub fn watch(
        &self,
        stream: u64,
        req: &WatchCreateRequest,
        require_leader: bool,
        out: StreamSender,
    ) -> Result<i64, WatchError> {
        // etcd's watchStream.Watch, after its gRPC layer turned "\0" into
        // "from the key on".
        let from_key = req.range_end.as_slice() == [0];
        if !req.range_end.is_empty() && !from_key && req.key >= req.range_end {
            return Err(WatchError::EmptyRange);
        }
        if require_leader
            && !self
                .inner
                .leader_known
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(WatchError::NoLeader);
        }
        let mut watchers = self.inner.watchers.lock();
        let id = {
            let mut ids = self.inner.next_ids.lock();
            let next = ids.entry(stream).or_insert(0);
            if req.watch_id > 0 {
                let key = (stream, req.watch_id);
                if watchers.contains_key(&key) || self.inner.compacted_away.lock().contains(&key) {
                    return Err(WatchError::DuplicateId(req.watch_id));
                }
                req.watch_id
            } else {
                while watchers.contains_key(&(stream, *next)) {
                    *next += 1;
                }
                let id = *next;
                *next += 1;
                id
            }
        };
        let current = self.revision();
        let (min_rev, group) = if req.start_revision <= 0 || req.start_revision > current {
            let start = if req.start_revision <= 0 {
                current + 1
            } else {
                self.inner.env.reach(Point::WatchFutureStart);
                req.start_revision
            };
            (start, Group::Synced)
        } else {
            (req.start_revision, Group::Unsynced)
        };
        let mut w = Watcher {
            key: req.key.clone(),
            range_end: req.range_end.clone(),
            filter_put: req.filters.contains(&(WatchFilter::NoPut as i32)),
            filter_delete: req.filters.contains(&(WatchFilter::NoDelete as i32)),
            prev_kv: req.prev_kv,
            progress_notify: req.progress_notify,
            require_leader,
            start_rev: req.start_revision.max(0),
            min_rev,
            group,
            pending: Vec::new(),
            stream: out,
            last_event_rev: 0,
        };
        let created = WatchResponse {
            header: Some(self.header(current)),
            watch_id: id,
            created: true,
            ..Default::default()
        };
        if let Err(resp) = w.send(&self.inner.env, created) {
            w.pending.push(resp);
            w.group = Group::Victim;
        }
        watchers.insert((stream, id), w);
        Ok(id)
    }

    /// Removes a watcher; true if it existed.
    pub fn cancel(&self, stream: u64, id: i64) -> bool {
        self.inner.watchers.lock().remove(&(stream, id)).is_some()
            || self.inner.compacted_away.lock().remove(&(stream, id))
    }

    /// Removes every watcher of a closed stream.
    pub fn close_stream(&self, stream: u64) {
        self.inner.watchers.lock().retain(|(s, _), _| *s != stream);
        self.inner
            .compacted_away
            .lock()
            .retain(|(s, _)| *s != stream);
        self.inner.next_ids.lock().remove(&stream);
        self.inner.stream_ends.lock().remove(&stream);
    }

    /// New changes at `rev`, from the apply loop, to synced watchers.
    pub fn notify(&self, rev: i64, changes: &[Change]) {
        let mut watchers = self.inner.watchers.lock();
        self.inner
            .revision
            .fetch_max(rev, std::sync::atomic::Ordering::SeqCst);
        for ((_, id), w) in watchers
            .iter_mut()
            .filter(|(_, w)| w.group == Group::Synced)
        {
            // A watch that starts in the future ignores what comes before.
            if rev < w.min_rev {
                continue;
            }
            let events: Vec<_> = changes
                .iter()
                .filter(|c| w.wants(c.is_delete, &c.kv.key))
                .map(Change::event)
                .collect();
            // A synced watcher's next revision follows the store, whether
            // or not this revision had events for it. etcd-15271 only moved
            // it for victims, so a restore resent what was delivered.
            let advance = !self.inner.opts.bug_stale_restore_rev;
            if events.is_empty() {
                if advance {
                    w.min_rev = rev + 1;
                }
                continue;
            }
            let resp = WatchResponse {
                header: Some(self.header(rev)),
                watch_id: *id,
                events,
                ..Default::default()
            };
            match w.send(&self.inner.env, resp) {
                Ok(()) if advance => w.min_rev = rev + 1,
                Ok(()) => {}
                Err(resp) => {
                    w.pending.push(resp);
                    w.group = Group::Victim;
                    w.min_rev = rev + 1;
                    self.inner.env.reach(Point::WatchVictim);
                }
            }
        }
    }

    /// Catches unsynced watchers up from history; cancels those whose next
    /// revision was compacted.
    pub fn sync_watchers(&self) {
        let current = self.revision();
        let compacted = self.inner.mvcc.compact_revision();
        let mut watchers = self.inner.watchers.lock();
        let min = watchers
            .values()
            .filter(|w| w.group == Group::Unsynced)
            .map(|w| w.min_rev)
            .min();
        let Some(min) = min else {
            return;
        };
        let changes = if min <= current {
            match self.inner.mvcc.changes_between(min.max(compacted), current) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(
                        member = self.inner.env.member,
                        "watch sync cannot read history: {e}"
                    );
                    return;
                }
            }
        } else {
            Vec::new()
        };
        let mut cancelled = Vec::new();
        for (key, w) in watchers
            .iter_mut()
            .filter(|(_, w)| w.group == Group::Unsynced)
        {
            if w.min_rev < compacted {
                let resp = WatchResponse {
                    header: Some(self.header(current)),
                    watch_id: key.1,
                    canceled: true,
                    // etcd sends the compact revision and no reason.
                    compact_revision: compacted,
                    ..Default::default()
                };
                match w.send(&self.inner.env, resp) {
                    Ok(()) => {
                        self.inner.env.reach(Point::WatchCanceledCompacted);
                        cancelled.push(*key);
                    }
                    // The stream is full: try again next round (etcd-17529
                    // dropped it and moved on as if it had been sent).
                    Err(_) if self.inner.opts.bug_drop_compaction_cancel => {
                        w.min_rev = compacted;
                    }
                    Err(_) => {}
                }
                continue;
            }
            let mut revs = 0usize;
            let mut last_rev = None;
            let mut events = Vec::new();
            for (rev, is_delete, kv) in changes.iter().filter(|(r, _, _)| r.main >= w.min_rev) {
                if last_rev != Some(rev.main) {
                    if revs == self.inner.opts.batch_max_revs {
                        break;
                    }
                    revs += 1;
                    last_rev = Some(rev.main);
                }
                if w.wants(*is_delete, &kv.key) {
                    events.push(
                        Change {
                            revision: rev.main,
                            is_delete: *is_delete,
                            kv: kv.clone(),
                        }
                        .event(),
                    );
                }
            }
            // How far this batch reaches: to the current revision, or to the
            // last revision it covered when it was cut at the batch limit.
            let reached = match last_rev {
                Some(r) if revs == self.inner.opts.batch_max_revs => {
                    self.inner.env.reach(Point::WatchCatchUpBatchCut);
                    r
                }
                _ => current,
            };
            if !events.is_empty() {
                let resp = WatchResponse {
                    header: Some(self.header(current)),
                    watch_id: key.1,
                    events,
                    ..Default::default()
                };
                if let Err(resp) = w.send(&self.inner.env, resp) {
                    w.pending.push(resp);
                    w.group = Group::Victim;
                    w.min_rev = reached + 1;
                    self.inner.env.reach(Point::WatchVictim);
                    continue;
                }
            }
            // A watch waiting for a future start (moved here by a restore)
            // keeps its start; etcd-20221-restore lowered it to the current
            // revision.
            let before = w.min_rev;
            w.min_rev = if self.inner.opts.bug_lower_future_watch_rev {
                reached + 1
            } else {
                w.min_rev.max(reached + 1)
            };
            self.inner.env.check(
                Invariant::WatcherRevisionNeverDecreases,
                w.min_rev >= before,
                || format!("next revision {before} -> {} catching up", w.min_rev),
            );
            if w.min_rev > current {
                w.group = Group::Synced;
                self.inner.env.reach(Point::WatchUnsyncedCaughtUp);
                if compacted > 0 {
                    self.inner.env.reach(Point::WatchCaughtUpAfterCompaction);
                }
            }
        }
        let mut compacted_away = self.inner.compacted_away.lock();
        for key in cancelled {
            watchers.remove(&key);
            compacted_away.insert(key);
        }
    }

    /// Retries victims; a victim whose responses all went out rejoins the
    /// synced or unsynced group.
    pub fn sync_victims(&self) {
        let current = self.revision();
        let mut watchers = self.inner.watchers.lock();
        for w in watchers.values_mut().filter(|w| w.group == Group::Victim) {
            while !w.pending.is_empty() {
                let resp = w.pending.remove(0);
                if let Err(resp) = w.send(&self.inner.env, resp) {
                    w.pending.insert(0, resp);
                    break;
                }
            }
            if w.pending.is_empty() {
                self.inner.env.reach(Point::WatchVictimRecovered);
                w.group = if w.min_rev > current {
                    Group::Synced
                } else {
                    Group::Unsynced
                };
            }
        }
    }

    /// After a victim tick: a victim still holding responses has a stream
    /// with no room (or none at all any more).
    pub(super) fn check_victims_wait_only_for_room(&self) {
        let watchers = self.inner.watchers.lock();
        for (key, w) in watchers
            .iter()
            .filter(|(_, w)| w.group == Group::Victim && !w.pending.is_empty())
        {
            let room = w.stream.capacity();
            self.inner.env.check(
                Invariant::VictimsWaitOnlyForRoom,
                room == 0 || w.stream.is_closed(),
                || {
                    format!(
                        "victim {key:?} holds {} responses after a victim tick; its stream has room for {room}",
                        w.pending.len()
                    )
                },
            );
        }
    }

    /// Periodic progress notifications to synced watchers that asked.
    pub fn progress_all(&self) {
        let current = self.revision();
        let watchers = self.inner.watchers.lock();
        for ((_, id), w) in watchers.iter() {
            if w.progress_notify
                && w.group == Group::Synced
                && !self.awaits_future_start(w, current)
            {
                self.check_delivered_up_to(w, current);
                // Full streams skip this round; the next one will tell.
                let _ = w.try_send(WatchResponse {
                    header: Some(self.header(current)),
                    watch_id: *id,
                    ..Default::default()
                });
            }
        }
    }

    /// A progress notification at `rev` tells the client every event up to
    /// `rev` has been delivered: the watcher's next revision must be past it.
    fn check_delivered_up_to(&self, w: &Watcher, rev: i64) {
        self.inner
            .env
            .check(Invariant::ProgressOnlyForDelivered, w.min_rev > rev, || {
                format!(
                    "progress at {rev} for a watcher whose next revision is {}",
                    w.min_rev
                )
            });
    }

    /// Whether the watcher's requested start revision is still ahead of the
    /// store: progress at the current revision would be below it, so etcd
    /// sends none (PR 20229; etcd-20221 sends it anyway).
    fn awaits_future_start(&self, w: &Watcher, current: i64) -> bool {
        !self.inner.opts.bug_progress_below_start && current < w.start_rev
    }

    /// Answers a RequestProgress on a stream: one stream-wide notification
    /// (watch id -1) at the current revision, only when every watcher of
    /// the stream is synced. Returns whether it was answered; a stream
    /// without watchers gets nothing (etcd's `progressIfSync` sends through
    /// the stream's first watcher) and counts as answered, as there. Under
    /// etcd-15220 every request is answered at once, as etcd's server did
    /// before that fix (its control stream, watchers or not).
    pub fn progress_if_sync(&self, stream: u64, out: &StreamSender) -> bool {
        let current = self.revision();
        let watchers = self.inner.watchers.lock();
        let mine: Vec<&Watcher> = watchers
            .range((stream, i64::MIN)..=(stream, i64::MAX))
            .map(|(_, w)| w)
            .collect();
        if mine.is_empty() && !self.inner.opts.bug_progress_out_of_band {
            return true;
        }
        let synced = mine.iter().all(|w| w.group == Group::Synced);
        if !synced && !self.inner.opts.bug_progress_out_of_band {
            self.inner.env.reach(Point::WatchProgressDeferred);
            return false;
        }
        // A watch that starts in the future has not reached its start yet:
        // progress at the current revision would be below it.
        let waiting = mine.iter().any(|w| self.awaits_future_start(w, current));
        if waiting {
            self.inner.env.reach(Point::WatchProgressHeldForFutureStart);
            return false;
        }
        for w in &mine {
            self.check_delivered_up_to(w, current);
        }
        let resp = WatchResponse {
            header: Some(self.header(current)),
            watch_id: -1,
            ..Default::default()
        };
        out.try_send(super::watcher::Outbound {
            response: resp,
            prev_kv: false,
        })
        .is_ok()
    }

    /// After a snapshot replaced the store: every synced watcher catches up
    /// from history again, from its own next revision.
    pub fn restore(&self) {
        let mut watchers = self.inner.watchers.lock();
        // The store was replaced: history up to its revision is readable.
        self.inner.revision.store(
            self.inner.mvcc.current_revision(),
            std::sync::atomic::Ordering::SeqCst,
        );
        if !watchers.is_empty() {
            self.inner.env.reach(Point::WatchRestoreWithWatchers);
        }
        for w in watchers.values_mut().filter(|w| w.group == Group::Synced) {
            w.group = Group::Unsynced;
        }
    }

    /// The member has known no leader for a while (`server::leader_monitor`):
    /// every stream with a watch that required one ends, all its watches
    /// with it, as etcd's monitorLeader cancels such a gRPC stream (its
    /// require-leader mark is the stream's) rather than answering each
    /// watch. A cancel response per watch could be lost to a full stream,
    /// leaving the client a stream the store had emptied.
    pub fn leader_lost(&self) {
        let ended: std::collections::BTreeSet<u64> = {
            let mut watchers = self.inner.watchers.lock();
            let ended = watchers
                .iter()
                .filter(|(_, w)| w.require_leader)
                .map(|((stream, _), _)| *stream)
                .collect::<std::collections::BTreeSet<u64>>();
            watchers.retain(|(stream, _), _| !ended.contains(stream));
            ended
        };
        if ended.is_empty() {
            return;
        }
        self.inner.env.reach(Point::WatchCanceledNoLeader);
        let ends = self.inner.stream_ends.lock();
        for stream in &ended {
            if let Some(end) = ends.get(stream) {
                end.notify_one();
            }
        }
    }

    /// How many watchers are in each group (synced, unsynced, victims).
    pub fn group_sizes(&self) -> (usize, usize, usize) {
        let watchers = self.inner.watchers.lock();
        let count = |g| watchers.values().filter(|w| w.group == g).count();
        (
            count(Group::Synced),
            count(Group::Unsynced),
            count(Group::Victim),
        )
    }

    /// The background loops: sync unsynced watchers, retry victims, send
    /// periodic progress.
    pub async fn run_loops(self) {
        let env = self.inner.env.clone();
        let opts = self.inner.opts;
        let sync = self.clone();
        let sync_env = env.clone();
        madsim::task::spawn(async move {
            loop {
                madsim::time::sleep(opts.sync_interval).await;
                if let Err(e) = sync_env.failpoint(Failpoint::BeforeSyncWatchers).await {
                    tracing::warn!("{e}");
                    continue;
                }
                sync.sync_watchers();
            }
        });
        let victims = self.clone();
        let victim_env = env.clone();
        madsim::task::spawn(async move {
            for tick in 0u64.. {
                madsim::time::sleep(opts.victim_interval).await;
                if let Err(e) = victim_env.failpoint(Failpoint::BeforeMoveVictims).await {
                    tracing::warn!("{e}");
                    continue;
                }
                victims.sync_victims();
                // Right after a retry, on one tick in ten: a victim left
                // waiting with room stays so, and the check looks at every
                // watcher.
                if tick % VICTIM_CHECK_EVERY == 0 {
                    victims.check_victims_wait_only_for_room();
                }
            }
        });
        loop {
            madsim::time::sleep(opts.progress_interval).await;
            self.progress_all();
        }
    }
}
