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
    let record = open(out, kind);
    out.extend_from_slice(payload);
    close(out, record);
}

/// A record begun by [`open`] whose payload is being appended in place.
#[must_use = "a record left open has a zeroed header: close it"]
pub struct Open {
    header_at: usize,
    kind: u8,
}

impl Open {
    /// Where the payload starts in the buffer.
    pub fn payload_at(&self) -> usize {
        self.header_at + HEADER_LEN
    }
}

/// Starts a record of `kind` at the end of `out`: its payload is whatever
/// is appended to `out` until [`close`]. For payloads that are built
/// rather than copied (a backend image), so they are written once.
pub fn open(out: &mut Vec<u8>, kind: u8) -> Open {
    let header_at = out.len();
    out.resize(header_at + HEADER_LEN, 0);
    Open { header_at, kind }
}

/// Ends a record: fills in its header for the bytes appended since
/// [`open`] (the same bytes [`encode`] writes for that payload).
pub fn close(out: &mut [u8], record: Open) {
    let payload_at = record.payload_at();
    let len = (out.len() - payload_at) as u32;
    let crc = checksum(record.kind, &out[payload_at..]);
    let header = &mut out[record.header_at..payload_at];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&(!len).to_le_bytes());
    header[8..12].copy_from_slice(&crc.to_le_bytes());
    header[12] = record.kind;
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
    fn a_record_built_in_place_is_the_copied_one() {
        let mut copied = b"before".to_vec();
        encode(&mut copied, 4, b"payload");
        let mut built = b"before".to_vec();
        let record = open(&mut built, 4);
        assert_eq!(record.payload_at(), 6 + HEADER_LEN);
        built.extend_from_slice(b"pay");
        built.extend_from_slice(b"load");
        close(&mut built, record);
        assert_eq!(built, copied);
        // The layout itself: length, inverted length, CRC, type, payload.
        let header = &copied[6..6 + HEADER_LEN];
        assert_eq!(header[0..4], 7u32.to_le_bytes());
        assert_eq!(header[4..8], (!7u32).to_le_bytes());
        assert_eq!(header[8..12], checksum(4, b"payload").to_le_bytes());
        assert_eq!(header[12], 4);
        assert_eq!(&copied[6 + HEADER_LEN..], b"payload");
        let mut empty = Vec::new();
        let record = open(&mut empty, 3);
        close(&mut empty, record);
        let mut expected = Vec::new();
        encode(&mut expected, 3, b"");
        assert_eq!(empty, expected);
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
