//! Which process dialed a loopback TCP connection we accepted: the
//! socket whose local end is the connection's source port and whose remote
//! end is our listening port, looked up in /proc/net/tcp, then found among
//! the candidate processes' open descriptors (/proc/PID/fd links read
//! `socket:[INODE]`). Linux only, as the rest of the crate
//! (`PR_SET_PDEATHSIG`).

use std::path::Path;

/// The inode of the IPv4 loopback socket from `source_port` to `dest_port`.
pub fn socket_inode(source_port: u16, dest_port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    inode_in(&table, source_port, dest_port)
}

/// The lookup in a /proc/net/tcp text (separate so a test can give one).
fn inode_in(table: &str, source_port: u16, dest_port: u16) -> Option<u64> {
    // Lines: "sl local_address rem_address st ... uid timeout inode ...",
    // addresses as hex "0100007F:1F90" (the IP in host byte order, the
    // port big-endian as written).
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, remote, inode) = (fields.get(1)?, fields.get(2)?, fields.get(9)?);
        let port = |address: &str| {
            let (_, port) = address.split_once(':')?;
            u16::from_str_radix(port, 16).ok()
        };
        let inode: u64 = inode.parse().ok()?;
        (port(local)? == source_port && port(remote)? == dest_port && inode != 0).then_some(inode)
    })
}

/// Whether process `pid` holds the socket `inode` open.
pub fn holds(pid: u32, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    let Ok(entries) = std::fs::read_dir(Path::new("/proc").join(pid.to_string()).join("fd")) else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_link(entry.path()).is_ok_and(|target| target.as_os_str() == wanted.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A1B2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:A1B2 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn the_dialing_end_is_the_one_from_the_source_port() {
        // 0xD431 = 54321 dialed 0xA1B2 = 41394: the dialer's socket is 222;
        // 333 is our accepted end, 111 our listener.
        assert_eq!(inode_in(TABLE, 54321, 41394), Some(222));
        assert_eq!(inode_in(TABLE, 41394, 54321), Some(333));
        assert_eq!(inode_in(TABLE, 1, 41394), None);
    }

    #[test]
    fn our_own_sockets_are_found_among_our_descriptors() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let source = stream.local_addr().expect("addr").port();
        let inode = socket_inode(source, port).expect("the connection is in /proc/net/tcp");
        assert!(holds(std::process::id(), inode));
        assert!(!holds(std::process::id(), inode + 1_000_000_000));
    }
}
