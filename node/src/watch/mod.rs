//! Watch: the watchable store (synced / unsynced / victim groups,
//! progress, compaction cancels, restore) and the server side of streams.

mod store;
mod stream;
mod watcher;

#[cfg(test)]
mod tests;

pub use store::{WatchError, WatchOptions, WatchableStore, WatcherKey};
pub use stream::serve_stream;
pub use watcher::{Change, Group, Outbound, StreamSender, Watcher};
