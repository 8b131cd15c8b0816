//! The on-disk encoding of a committed batch: a list of puts and deletes.

use super::bucket::Bucket;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// Record kind of a batch in the db file.
pub const BATCH_RECORD: u8 = 1;

/// Bytes [`encode_put`] appends for this key and value (to size a buffer
/// once instead of growing it).
pub fn put_len(key: &[u8], value: &[u8]) -> usize {
    2 + 4 + key.len() + 4 + value.len()
}

pub fn encode_put(out: &mut Vec<u8>, bucket: Bucket, key: &[u8], value: &[u8]) {
    // The fixed-size head in one piece: an image puts every key.
    let [k0, k1, k2, k3] = (key.len() as u32).to_le_bytes();
    out.extend_from_slice(&[OP_PUT, bucket as u8, k0, k1, k2, k3]);
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

pub fn encode_delete(out: &mut Vec<u8>, bucket: Bucket, key: &[u8]) {
    out.push(OP_DELETE);
    out.push(bucket as u8);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
}

#[derive(Debug, PartialEq, Eq)]
pub enum BatchOp<'a> {
    Put(Bucket, &'a [u8], &'a [u8]),
    Delete(Bucket, &'a [u8]),
}

/// Decodes a batch payload; the error says what was wrong and where.
pub fn decode(payload: &[u8]) -> Result<Vec<BatchOp<'_>>, String> {
    let mut ops = Vec::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let end = at.checked_add(n).filter(|e| *e <= payload.len());
        match end {
            Some(end) => {
                let s = &payload[*at..end];
                *at = end;
                Ok(s)
            }
            None => Err(format!("batch ends early at byte {at}")),
        }
    };
    let len = |at: &mut usize| -> Result<usize, String> {
        let b = take(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    while at < payload.len() {
        let head = take(&mut at, 2)?;
        let (op, bucket_byte) = (head[0], head[1]);
        let bucket = Bucket::from_byte(bucket_byte)
            .ok_or_else(|| format!("unknown bucket {bucket_byte}"))?;
        let klen = len(&mut at)?;
        let key = take(&mut at, klen)?;
        match op {
            OP_PUT => {
                let vlen = len(&mut at)?;
                let value = take(&mut at, vlen)?;
                ops.push(BatchOp::Put(bucket, key, value));
            }
            OP_DELETE => ops.push(BatchOp::Delete(bucket, key)),
            other => return Err(format!("unknown batch operation {other}")),
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        encode_put(&mut buf, Bucket::Key, b"k", b"value");
        encode_delete(&mut buf, Bucket::Lease, b"7");
        let ops = decode(&buf).expect("valid batch");
        assert_eq!(
            ops,
            vec![
                BatchOp::Put(Bucket::Key, b"k", b"value"),
                BatchOp::Delete(Bucket::Lease, b"7")
            ]
        );
        assert_eq!(buf.len(), put_len(b"k", b"value") + 2 + 4 + 1);
        assert!(decode(&buf[..buf.len() - 1]).is_err());
        let mut bad = buf.clone();
        bad[1] = 99;
        assert!(decode(&bad).is_err());
    }
}
