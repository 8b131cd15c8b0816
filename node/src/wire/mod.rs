//! Everything that crosses a process boundary, as protobuf messages.

pub mod api;
pub mod internal;
