//! Watch-heavy traffic: each client keeps a stream and starts watches
//! around the current revision (up to 100 revisions either way, as etcd's
//! robustness traffic draws them), around the compact revision, or from
//! now, on single keys or prefixes, asks for progress every ~100 ms, and
//! replaces its watches every second or two (one stream in four lives for
//! most of the run).

use super::TrafficContext;
use super::requests;
use super::watching::RecordedStream;
use crate::recorder::RecordingClient;
use node::wire::api::{WatchCreateRequest, WatchFilter, client_response};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

pub async fn run(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let mut current = 1i64;
    let mut stream_no = 0;
    while !ctx.stopped() {
        // A Status answered leaves the client on the member that answered
        // it: the stream below goes to that member.
        let compacted = learn_revisions(&mut client, &mut current).await;
        let member = client.client.member();
        stream_no += 1;
        let Ok(mut stream) = RecordedStream::open(
            id,
            stream_no,
            member,
            sim::member_ip(member),
            ctx.recorder.clone(),
            ctx.client_timeout,
        )
        .await
        else {
            client.client.rotate();
            ctx.pace(&mut rng).await;
            continue;
        };
        stream.member_compacted(compacted);
        let mut ok = start_watches(&ctx, &mut rng, &mut stream, current, compacted).await;
        // The lifetime is drawn even when a watch could not be started, as
        // it always was: skipping the draw would shift every later draw of
        // this client, and a recorded seed would no longer replay its run.
        let until = madsim::time::Instant::now() + stream_lifetime(&mut rng);
        if ok {
            ok = follow(&ctx, &mut stream, until, &mut current).await;
        }
        if ok {
            close_watches(&mut stream).await;
        } else {
            client.client.rotate();
        }
        stream.finish();
    }
}

/// Learns where the store is from a status request (not part of the
/// history): raises `current` to the member's revision and returns its
/// compact revision, 0 when the member does not answer. Watches start
/// around both.
async fn learn_revisions(client: &mut RecordingClient, current: &mut i64) -> i64 {
    let mut compacted = 0;
    if let Ok(client_response::Body::Status(s)) = client.client.request(requests::status()).await {
        *current = (*current).max(s.header.map(|h| h.revision).unwrap_or(1));
        compacted = s.compact_revision;
    }
    compacted
}

/// Starts a stream's watches (the profile's count, or 1 to 3), each drawn
/// by [`draw_watch`]; false as soon as one cannot be sent (the stream is
/// broken: the caller moves to another member).
async fn start_watches(
    ctx: &TrafficContext,
    rng: &mut ChaCha8Rng,
    stream: &mut RecordedStream,
    current: i64,
    compacted: i64,
) -> bool {
    let watches = ctx
        .watches_per_stream
        .unwrap_or_else(|| rng.gen_range(1..4));
    for _ in 0..watches {
        let req = draw_watch(ctx, rng, current, compacted);
        if stream.watch(req, None).await.is_err() {
            return false;
        }
    }
    true
}

/// One watch request: its start revision, a single key or the profile's
/// whole range, sometimes a filter, and whether it asks for progress
/// notifications and previous values. The draws keep their order (each
/// one moves the client's random stream).
fn draw_watch(
    ctx: &TrafficContext,
    rng: &mut ChaCha8Rng,
    current: i64,
    compacted: i64,
) -> WatchCreateRequest {
    let start = start_revision(rng, current, compacted);
    let (key, range_end) = if rng.gen_bool(0.5) {
        (
            ctx.key(rng.gen_range(0..ctx.keys.max(1))).into_bytes(),
            Vec::new(),
        )
    } else {
        ctx.key_range()
    };
    let mut filters = Vec::new();
    if rng.gen_bool(0.1) {
        filters.push(if rng.gen_bool(0.5) {
            WatchFilter::NoPut
        } else {
            WatchFilter::NoDelete
        } as i32);
    }
    let mut req = requests::watch(key, range_end, start);
    req.progress_notify = rng.gen_bool(0.5);
    req.prev_kv = rng.gen_bool(0.5);
    req.filters = filters;
    req
}

/// Reads the stream's responses until `until` (or the traffic stops),
/// asking for progress every 100 ms so the history holds progress
/// notifications to check; each response's revision raises `current`.
/// False once the stream failed.
async fn follow(
    ctx: &TrafficContext,
    stream: &mut RecordedStream,
    until: madsim::time::Instant,
    current: &mut i64,
) -> bool {
    let mut ticks = madsim::time::interval(Duration::from_millis(100));
    while !ctx.stopped() && madsim::time::Instant::now() < until {
        tokio::select! {
            biased;
            resp = stream.next() => match resp {
                Ok(r) => {
                    if let Some(h) = &r.header {
                        *current = (*current).max(h.revision);
                    }
                }
                Err(_) => return false,
            },
            _ = ticks.tick() => {
                if stream.request_progress().await.is_err() {
                    return false;
                }
            }
        }
    }
    true
}

/// Cancels the watches still open and collects the cancel
/// acknowledgements, waiting at most 200 ms: the history then records
/// each watch's end, and a member that does not answer cannot hold the
/// client.
async fn close_watches(stream: &mut RecordedStream) {
    for w in stream.open_watches() {
        let _ = stream.cancel(w).await;
    }
    let deadline = madsim::time::Instant::now() + Duration::from_millis(200);
    while !stream.open_watches().is_empty() && madsim::time::Instant::now() < deadline {
        let left = deadline.saturating_duration_since(madsim::time::Instant::now());
        if !matches!(madsim::time::timeout(left, stream.next()).await, Ok(Ok(_))) {
            break;
        }
    }
}

/// How long a stream keeps its watches: mostly a second or two, and one
/// stream in four stays open for most of the run, as etcd's robustness
/// watchers do, so it lives through the faults (a member restoring a
/// snapshot, a compaction, a restart) with its watchers synced.
fn stream_lifetime(rng: &mut ChaCha8Rng) -> Duration {
    if rng.gen_bool(0.25) {
        Duration::from_millis(rng.gen_range(5_000..15_000))
    } else {
        Duration::from_millis(rng.gen_range(800..2500))
    }
}

/// A watch's start revision: mostly the member's current revision plus an
/// offset in -100..=100 (past, compacted, now and future starts alike, as
/// etcd's robustness traffic draws them), sometimes within two revisions of
/// the compact revision, sometimes 0 (from now).
fn start_revision(rng: &mut ChaCha8Rng, current: i64, compacted: i64) -> i64 {
    match rng.gen_range(0..10) {
        0 => 0,
        1 | 2 => (compacted + rng.gen_range(-2..=2)).max(1),
        _ => (current + rng.gen_range(-100..=100)).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn starts_spread_around_the_current_and_the_compact_revision() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let starts: Vec<i64> = (0..2000)
            .map(|_| start_revision(&mut rng, 500, 300))
            .collect();
        assert!(starts.iter().all(|s| *s == 0 || (298..=600).contains(s)));
        assert!(starts.contains(&0));
        assert!(starts.contains(&300), "exactly the compact revision");
        assert!(starts.iter().any(|s| *s > 500), "future starts");
        assert!(starts.iter().any(|s| (400..500).contains(s)), "past starts");
    }
}
