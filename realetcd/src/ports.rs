//! Loopback ports for etcd to listen on, from the kernel as the harness
//! takes them (bind port 0, read the port, close), with one difference:
//! the kernel may hand a closed port out again at once, so two clusters
//! starting at the same time in this process could be given the same one.
//! A port handed out here stays reserved until its `Port` is dropped, and is
//! never handed out twice meanwhile. Another process can still take it
//! between our close and etcd's bind; the cluster then starts that member
//! again on fresh ports (`cluster`), which only works because these ports
//! are not part of the cluster's configuration (the advertised peer
//! addresses are the proxy's, which we keep bound).

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

fn reserved() -> &'static Mutex<HashSet<u16>> {
    static RESERVED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    RESERVED.get_or_init(Default::default)
}

/// A port reserved in this process until dropped.
#[derive(Debug)]
pub struct Port(u16);

impl Port {
    pub fn take() -> std::io::Result<Port> {
        // Every port the kernel gives while we hold the listeners is
        // distinct, so a few tries always find one we have not reserved.
        let mut held = Vec::new();
        loop {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let port = listener.local_addr()?.port();
            let mut set = reserved().lock().unwrap_or_else(|p| p.into_inner());
            if set.insert(port) {
                return Ok(Port(port));
            }
            drop(set);
            held.push(listener);
        }
    }

    pub fn get(&self) -> u16 {
        self.0
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        reserved()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}
