//! Record framing shared by the WAL and the backend file:
//! `[len u32][!len u32][crc u32][type u8][payload]`, little endian. The CRC-32 covers the type byte and the payload; the length
//! is stored twice (plain and inverted) so that a damaged length reads as
//! corruption, never as a write cut short at the tail, which would be
//! truncated away silently.

pub const HEADER_LEN: usize = 13;

pub fn checksum(kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// Appends one framed record to `out`.
pub fn encode(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(&checksum(kind, payload).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
}

/// What was found at an offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Record {
        kind: u8,
        payload: &'a [u8],
        next: usize,
    },
    /// The file ends inside this record: a write that was cut short.
    Incomplete,
    /// The record is complete but its checksum or type is wrong.
    Corrupt(String),
    End,
}

pub fn decode_at(buf: &[u8], offset: usize) -> Decoded<'_> {
    if offset == buf.len() {
        return Decoded::End;
    }
    if buf.len() - offset < HEADER_LEN {
        return Decoded::Incomplete;
    }
    let word = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let len = word(offset);
    if word(offset + 4) != !len {
        return Decoded::Corrupt(format!("damaged record length {len}"));
    }
    let len = len as usize;
    let crc = word(offset + 8);
    let kind = buf[offset + 12];
    let start = offset + HEADER_LEN;
    if buf.len() - start < len {
        return Decoded::Incomplete;
    }
    let payload = &buf[start..start + len];
    if checksum(kind, payload) != crc {
        return Decoded::Corrupt(format!(
            "CRC mismatch (record of {len} bytes, type byte {kind})"
        ));
    }
    Decoded::Record {
        kind,
        payload,
        next: start + len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut buf = Vec::new();
        encode(&mut buf, 2, b"hello");
        encode(&mut buf, 3, b"");
        let Decoded::Record {
            kind,
            payload,
            next,
        } = decode_at(&buf, 0)
        else {
            panic!("first record should decode");
        };
        assert_eq!((kind, payload), (2u8, &b"hello"[..]));
        assert!(matches!(
            decode_at(&buf, next),
            Decoded::Record { kind: 3, .. }
        ));
        assert_eq!(decode_at(&buf, buf.len()), Decoded::End);
        for cut in 1..HEADER_LEN + 5 {
            assert_eq!(
                decode_at(&buf[..cut], 0),
                Decoded::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_flipped_bit_is_corruption() {
        let mut buf = Vec::new();
        encode(&mut buf, 2, b"hello");
        for bit in 0..8 {
            let mut bad = buf.clone();
            bad[HEADER_LEN + 2] ^= 1 << bit;
            assert!(matches!(decode_at(&bad, 0), Decoded::Corrupt(_)));
        }
        let mut bad = buf.clone();
        bad[12] = 77;
        assert!(
            matches!(decode_at(&bad, 0), Decoded::Corrupt(_)),
            "type byte is covered by the CRC"
        );
    }

    #[test]
    fn a_damaged_length_is_corruption_not_a_torn_tail() {
        let mut buf = Vec::new();
        encode(&mut buf, 2, b"hello");
        for bit in 0..32 {
            let mut bad = buf.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(decode_at(&bad, 0), Decoded::Corrupt(_)),
                "bit {bit}"
            );
        }
    }
}
