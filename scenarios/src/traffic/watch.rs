//! Watch-heavy traffic: each client keeps a stream and starts watches at
//! offsets around the current revision (in the past, now, in the future,
//! exactly at the compact revision),
//! on single keys or prefixes, asks for progress every ~100 ms, and
//! replaces its watches every second or two.

use super::TrafficContext;
use super::watching::RecordedStream;
use crate::recorder::RecordingClient;
use node::wire::api::{
    StatusRequest, WatchCreateRequest, WatchFilter, client_request::Body, client_response,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

pub async fn run(ctx: TrafficContext, id: u64, mut rng: ChaCha8Rng) {
    let mut client = RecordingClient::new(id, ctx.client(id), ctx.recorder.clone());
    let mut current = 1i64;
    let mut stream_no = 0;
    while !ctx.stopped() {
        // Learn where the store is: its revision and compact revision
        // (a status request is not part of the history).
        let mut compacted = 0;
        if let Ok(client_response::Body::Status(s)) =
            client.client.request(Body::Status(StatusRequest {})).await
        {
            current = current.max(s.header.map(|h| h.revision).unwrap_or(1));
            compacted = s.compact_revision;
        }
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
        let watches = ctx
            .watches_per_stream
            .unwrap_or_else(|| rng.gen_range(1..4));
        let mut ok = true;
        for _ in 0..watches {
            let start = match rng.gen_range(0..4) {
                0 => (current - rng.gen_range(1..30)).max(1),
                1 => 0,
                2 => current + rng.gen_range(1..10),
                // Exactly at the compact revision: still readable.
                _ => compacted.max(1),
            };
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
            let req = WatchCreateRequest {
                key,
                range_end,
                start_revision: start,
                progress_notify: rng.gen_bool(0.5),
                prev_kv: rng.gen_bool(0.5),
                filters,
                ..Default::default()
            };
            if stream.watch(req, None).await.is_err() {
                ok = false;
                break;
            }
        }
        let until = madsim::time::Instant::now() + Duration::from_millis(rng.gen_range(800..2500));
        let mut ticks = madsim::time::interval(Duration::from_millis(100));
        while ok && !ctx.stopped() && madsim::time::Instant::now() < until {
            tokio::select! {
                biased;
                resp = stream.next() => match resp {
                    Ok(r) => {
                        if let Some(h) = &r.header {
                            current = current.max(h.revision);
                        }
                    }
                    Err(_) => ok = false,
                },
                _ = ticks.tick() => {
                    if stream.request_progress().await.is_err() {
                        ok = false;
                    }
                }
            }
        }
        if ok {
            for w in stream.open_watches() {
                let _ = stream.cancel(w).await;
            }
            // Collect the cancel acknowledgements (bounded wait).
            let deadline = madsim::time::Instant::now() + Duration::from_millis(200);
            while !stream.open_watches().is_empty() && madsim::time::Instant::now() < deadline {
                let left = deadline.saturating_duration_since(madsim::time::Instant::now());
                if !matches!(madsim::time::timeout(left, stream.next()).await, Ok(Ok(_))) {
                    break;
                }
            }
        } else {
            client.client.rotate();
        }
        stream.finish();
    }
}
