//! The watch half of a sequence, the same on both sides ([`Watching`], on
//! each side's [`Transport`]): one watch stream per sequence, every
//! response off it taken in as a [`Message`], creation responses matched to
//! the watches in the order they were asked for, and the rest handed out as
//! one answer at each progress or cancel step.
//!
//! Each side knows when its stream has delivered everything only by
//! waiting: both executors drain the stream until it has been silent for
//! [`QUIET`] (wall time against etcd, simulated time in the simulation).
//! That covers etcd's watcher sync loop (every 100 ms). The stream is
//! drained right after a watch from the past is created, so it has caught
//! up before a later step (a compaction) could overtake it; so a progress
//! request always meets synced watchers, which matters because etcd before
//! 3.4.25 answers it at once, out of band (etcd-15220), and later ones (and
//! this store) only when every watcher is synced.

use crate::Resolver;
use crate::answer::{Answer, Body, Code, Event, Reply, WatchLog};
use crate::step::{Rev, Step, Watch};
use std::future::Future;
use std::time::Duration;

/// How long a stream must stay silent before its messages count as all in.
pub const QUIET: Duration = Duration::from_millis(250);

/// The longest a drain may go on (a stream that never falls silent).
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// The longest to wait for a watch's creation response.
pub const CREATE_TIMEOUT: Duration = Duration::from_secs(5);

/// etcd's watch id for "no watch": a stream-wide progress notification, or
/// a creation that failed.
pub const NO_WATCH: i64 = -1;

/// What one side's watch stream can do, in its own protocol and on its own
/// clock. When to wait and what each step answers is [`Watching`]'s, the
/// same for both sides.
pub trait Transport: Send {
    type Error: Send;

    /// Sends a watch creation (opening the stream the first time).
    fn create(
        &mut self,
        watch: &Watch,
        start_revision: i64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    fn cancel(&mut self, watch_id: i64) -> impl Future<Output = Result<(), Self::Error>> + Send;

    fn request_progress(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The next response, or None after `wait` without one (at once while
    /// no stream is open).
    fn next(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<Option<Message>, Self::Error>> + Send;

    /// This side's clock (wall time, or simulated time), from any origin.
    fn now(&self) -> Duration;
}

/// A sequence's watch steps, on one side's [`Transport`].
#[derive(Debug, Default)]
pub struct Watching {
    stream: Stream,
}

impl Watching {
    /// The answer to a watch step (None for other steps); an error is the
    /// transport's, for the caller to turn into an answer its way.
    pub async fn step<T: Transport>(
        &mut self,
        t: &mut T,
        r: &Resolver,
        step: &Step,
    ) -> Option<Result<Answer, T::Error>> {
        Some(match step {
            Step::Watch(w) => self.create(t, r, w).await,
            Step::WatchProgress => self.progress(t).await,
            Step::WatchCancel { watch } => self.cancel(t, *watch).await,
            _ => return None,
        })
    }

    async fn create<T: Transport>(
        &mut self,
        t: &mut T,
        r: &Resolver,
        w: &Watch,
    ) -> Result<Answer, T::Error> {
        let start = r.rev(w.start);
        let from_past = start != 0 && start <= r.rev(Rev::Head(0));
        t.create(w, start).await?;
        let deadline = t.now() + CREATE_TIMEOUT;
        loop {
            let left = deadline.saturating_sub(t.now());
            let Some(m) = t.next(left).await? else {
                return Ok(Answer::Error {
                    code: Code::DeadlineExceeded,
                    message: "no watch creation response".into(),
                });
            };
            if let Some(created) = self.stream.take(m) {
                // A watch from the past catches up in the server's sync
                // loop (etcd: every 100 ms): let it, before the next step
                // (a compaction) can overtake it, which would make the
                // outcome a matter of timing. One from now or the future
                // is in step at once.
                if from_past {
                    self.drain(t).await?;
                }
                return Ok(Answer::Ok(Reply {
                    revision: created.revision,
                    body: Body::WatchCreated {
                        canceled: created.canceled,
                        cancel_reason: created.cancel_reason,
                    },
                }));
            }
        }
    }

    async fn progress<T: Transport>(&mut self, t: &mut T) -> Result<Answer, T::Error> {
        t.request_progress().await?;
        self.drain(t).await?;
        Ok(self.collected())
    }

    async fn cancel<T: Transport>(&mut self, t: &mut T, watch: usize) -> Result<Answer, T::Error> {
        if let Some(id) = self.stream.id_of(watch) {
            t.cancel(id).await?;
        }
        self.drain(t).await?;
        Ok(self.collected())
    }

    fn collected(&mut self) -> Answer {
        Answer::Ok(Reply {
            revision: 0,
            body: self.stream.collect(),
        })
    }

    /// Takes in everything until the stream has been silent for [`QUIET`]
    /// (or for [`DRAIN_LIMIT`] at most).
    async fn drain<T: Transport>(&mut self, t: &mut T) -> Result<(), T::Error> {
        let limit = t.now() + DRAIN_LIMIT;
        while t.now() < limit {
            match t.next(QUIET).await? {
                // A creation response cannot come unasked.
                Some(m) => {
                    let _ = self.stream.take(m);
                }
                None => break,
            }
        }
        Ok(())
    }
}

/// One response off a watch stream, in the shared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub watch_id: i64,
    /// The header's revision.
    pub revision: i64,
    pub created: bool,
    pub canceled: bool,
    pub compact_revision: i64,
    pub cancel_reason: String,
    pub events: Vec<Event>,
}

/// One side's watch stream: which server id each watch of the sequence
/// got, and what arrived since the last answer.
#[derive(Debug, Default)]
struct Stream {
    /// Per watch of the sequence, in the order opened: its server id.
    ids: Vec<i64>,
    pending: Vec<Message>,
}

impl Stream {
    /// Takes in a message. A creation response is the next watch's and is
    /// given back (it is that step's answer); anything else waits for the
    /// next progress or cancel step.
    pub fn take(&mut self, m: Message) -> Option<Message> {
        if m.created {
            self.ids.push(m.watch_id);
            return Some(m);
        }
        self.pending.push(m);
        None
    }

    /// The server id of the sequence's `watch`-th watch, if it was opened.
    pub fn id_of(&self, watch: usize) -> Option<i64> {
        self.ids.get(watch).copied()
    }

    /// Everything since the last answer, per watch, as one answer body.
    pub fn collect(&mut self) -> Body {
        let mut progress = Vec::new();
        let mut watches: Vec<WatchLog> = Vec::new();
        for m in self.pending.drain(..) {
            let stream_wide = m.watch_id == NO_WATCH && m.events.is_empty() && !m.canceled;
            if stream_wide {
                progress.push(m.revision);
                continue;
            }
            // Ids may be reused after a cancel: the latest watch with it.
            let watch = self
                .ids
                .iter()
                .rposition(|id| *id == m.watch_id)
                .unwrap_or(usize::MAX);
            let at = match watches.iter().position(|w| w.watch == watch) {
                Some(at) => at,
                None => {
                    watches.push(WatchLog {
                        watch,
                        events: Vec::new(),
                        progress: Vec::new(),
                        canceled: false,
                        compact_revision: 0,
                        cancel_reason: String::new(),
                    });
                    watches.len() - 1
                }
            };
            let log = &mut watches[at];
            if m.events.is_empty() && !m.canceled {
                log.progress.push(m.revision);
            }
            log.events.extend(m.events);
            log.canceled |= m.canceled;
            log.compact_revision = log.compact_revision.max(m.compact_revision);
            if !m.cancel_reason.is_empty() {
                log.cancel_reason = m.cancel_reason;
            }
        }
        watches.sort_by_key(|w| w.watch);
        Body::WatchStream { progress, watches }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::{EventKind, Kv};

    fn message(watch_id: i64, revision: i64) -> Message {
        Message {
            watch_id,
            revision,
            created: false,
            canceled: false,
            compact_revision: 0,
            cancel_reason: String::new(),
            events: Vec::new(),
        }
    }

    fn event(rev: i64) -> Event {
        Event {
            kind: EventKind::Put,
            kv: Kv {
                key: "a".into(),
                create_revision: rev,
                mod_revision: rev,
                version: 1,
                value: "v".into(),
                lease: 0,
            },
            prev_kv: None,
        }
    }

    #[test]
    fn messages_are_grouped_per_watch_whatever_their_interleaving() {
        let mut s = Stream::default();
        let created = |id| Message {
            created: true,
            ..message(id, 1)
        };
        assert!(s.take(created(7)).is_some());
        assert!(s.take(created(9)).is_some());
        // etcd 3.4.23 may put its progress answer before pending events.
        let events = |id, rev| Message {
            events: vec![event(rev)],
            ..message(id, rev)
        };
        for m in [
            message(NO_WATCH, 5),
            events(9, 4),
            events(7, 4),
            events(7, 5),
        ] {
            assert!(s.take(m).is_none());
        }
        let Body::WatchStream { progress, watches } = s.collect() else {
            panic!("a stream answer");
        };
        assert_eq!(progress, vec![5]);
        assert_eq!(watches.len(), 2);
        assert_eq!((watches[0].watch, watches[0].events.len()), (0, 2));
        assert_eq!((watches[1].watch, watches[1].events.len()), (1, 1));
        assert_eq!(
            s.collect(),
            Body::WatchStream {
                progress: vec![],
                watches: vec![]
            }
        );
        assert_eq!(s.id_of(1), Some(9));
        assert_eq!(s.id_of(2), None);
    }

    #[test]
    fn a_cancel_for_compaction_keeps_its_revision() {
        let mut s = Stream::default();
        s.take(Message {
            created: true,
            ..message(0, 3)
        });
        s.take(Message {
            canceled: true,
            compact_revision: 6,
            ..message(0, 9)
        });
        let Body::WatchStream { watches, .. } = s.collect() else {
            panic!("a stream answer");
        };
        assert!(watches[0].canceled);
        assert_eq!(watches[0].compact_revision, 6);
        assert!(watches[0].progress.is_empty());
    }
}
