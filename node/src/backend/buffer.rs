//! etcd's transaction buffers. Writes made under the batch transaction go
//! into a write buffer; when the transaction is released they are written
//! back into the read buffer, which readers consult on top of the committed
//! data until the next commit empties it.
//!
//! As in etcd, a bucket buffer is an array with a count of used slots:
//! resetting it keeps the array (and whatever it held) for reuse, and
//! buckets live on across transactions while they are in use. That is
//! what etcd-17247 got wrong: deduplicating an empty bucket buffer counted
//! one stale slot as used.

use super::bucket::Bucket;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketBuffer {
    buf: Vec<(Vec<u8>, Vec<u8>)>,
    used: usize,
}

impl BucketBuffer {
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if self.used < self.buf.len() {
            self.buf[self.used] = (key, value);
        } else {
            self.buf.push((key, value));
        }
        self.used += 1;
    }

    /// The pairs in use.
    pub fn entries(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.buf[..self.used]
    }

    /// Sorts by key; of repeated keys the last written wins. `guard`
    /// leaves an empty or single-entry buffer alone (etcd's fix for
    /// etcd-17247; without it an empty buffer ends up with one stale entry).
    pub fn dedupe(&mut self, guard: bool) {
        if guard && self.used <= 1 {
            return;
        }
        let used = self.used.min(self.buf.len());
        // A stable sort keeps write order among equal keys.
        self.buf[..used].sort_by(|a, b| a.0.cmp(&b.0));
        let mut widx = 0;
        for ridx in 1..used {
            if self.buf[ridx].0 != self.buf[widx].0 {
                widx += 1;
            }
            self.buf.swap(widx, ridx);
        }
        self.used = (widx + 1).min(self.buf.len());
    }

    /// Appends another buffer's pairs and restores key order.
    pub fn merge(&mut self, other: &BucketBuffer) {
        for (k, v) in other.entries() {
            self.put(k.clone(), v.clone());
        }
        self.dedupe(true);
    }

    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let e = self.entries();
        e.binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()
            .map(|i| e[i].1.as_slice())
    }

    /// Pairs with `start <= key < end` (`end` empty = only `start`).
    pub fn range<'a>(
        &'a self,
        start: &'a [u8],
        end: &'a [u8],
    ) -> impl Iterator<Item = &'a (Vec<u8>, Vec<u8>)> + 'a {
        let e = self.entries();
        let from = e.partition_point(|(k, _)| k.as_slice() < start);
        e[from..].iter().take_while(move |(k, _)| {
            if end.is_empty() {
                k.as_slice() == start
            } else {
                k.as_slice() < end
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    pub fn len(&self) -> usize {
        self.used
    }
}

/// One buffer per bucket.
#[derive(Debug, Clone, Default)]
pub struct TxBuffer {
    buckets: BTreeMap<Bucket, BucketBuffer>,
}

impl TxBuffer {
    pub fn put(&mut self, bucket: Bucket, key: Vec<u8>, value: Vec<u8>) {
        self.buckets.entry(bucket).or_default().put(key, value);
    }

    pub fn bucket(&self, bucket: Bucket) -> Option<&BucketBuffer> {
        self.buckets.get(&bucket)
    }

    /// Frees buckets that were not used since the last reset and empties
    /// the others (keeping their arrays), as etcd's txBuffer.reset does.
    pub fn reset(&mut self) {
        self.buckets.retain(|_, b| b.used > 0);
        for b in self.buckets.values_mut() {
            b.used = 0;
        }
    }

    /// Whether nothing is buffered (the tests' check that a writeback
    /// reset the write buffer).
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.buckets.values().all(BucketBuffer::is_empty)
    }

    /// Writes this (write) buffer back into the read buffer, then resets
    /// it. A bucket the read buffer lacks is handed over whole (after
    /// deduplication); otherwise it is merged. `bug_17247` drops the guard
    /// that keeps deduplication from counting a stale slot of an empty
    /// bucket as written.
    pub fn writeback(&mut self, read: &mut TxBuffer, bug_17247: bool) {
        let buckets: Vec<Bucket> = self.buckets.keys().copied().collect();
        for bucket in buckets {
            match read.buckets.entry(bucket) {
                std::collections::btree_map::Entry::Occupied(mut rb) => {
                    if let Some(wb) = self.buckets.get(&bucket) {
                        rb.get_mut().merge(wb);
                    }
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    if let Some(mut wb) = self.buckets.remove(&bucket) {
                        wb.dedupe(!bug_17247);
                        slot.insert(wb);
                    }
                }
            }
        }
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn last_write_wins_and_range_is_sorted() {
        let mut b = BucketBuffer::default();
        for (k, v) in [kv("b", "1"), kv("a", "1"), kv("b", "2"), kv("c", "1")] {
            b.put(k, v);
        }
        b.dedupe(true);
        assert_eq!(b.entries(), &[kv("a", "1"), kv("b", "2"), kv("c", "1")]);
        let got: Vec<_> = b.range(b"a", b"c").cloned().collect();
        assert_eq!(got, vec![kv("a", "1"), kv("b", "2")]);
        let single: Vec<_> = b.range(b"b", b"").cloned().collect();
        assert_eq!(single, vec![kv("b", "2")]);
        assert_eq!(b.get(b"c"), Some(&b"1"[..]));
    }

    #[test]
    fn writeback_merges_into_the_read_buffer() {
        let mut read = TxBuffer::default();
        let mut write = TxBuffer::default();
        write.put(Bucket::Key, b"2".to_vec(), b"x".to_vec());
        write.put(Bucket::Key, b"1".to_vec(), b"y".to_vec());
        write.writeback(&mut read, false);
        assert!(write.is_empty());
        write.put(Bucket::Key, b"1".to_vec(), b"z".to_vec());
        write.writeback(&mut read, false);
        let rb = read.bucket(Bucket::Key).expect("key bucket buffered");
        assert_eq!(rb.entries(), &[kv("1", "z"), kv("2", "x")]);
    }

    /// The etcd-17247 sequence: a key bucket written, merged, committed
    /// twice without key writes (the read buffer frees its key bucket),
    /// then a transaction that writes only another bucket.
    fn stale_resurrection(bug: bool) -> usize {
        let mut read = TxBuffer::default();
        let mut write = TxBuffer::default();
        read.put(Bucket::Key, b"0".to_vec(), b"old".to_vec());
        write.put(Bucket::Key, b"1".to_vec(), b"committed".to_vec());
        write.writeback(&mut read, bug); // merged: the write bucket stays, emptied
        read.reset(); // commit
        read.reset(); // commit with nothing written: the key bucket is freed
        write.put(Bucket::Lease, b"l".to_vec(), b"v".to_vec());
        write.writeback(&mut read, bug);
        read.bucket(Bucket::Key).map(BucketBuffer::len).unwrap_or(0)
    }

    #[test]
    fn an_empty_bucket_stays_empty_unless_the_guard_is_gone() {
        assert_eq!(stale_resurrection(false), 0);
        assert_eq!(
            stale_resurrection(true),
            1,
            "etcd-17247 resurrects a stale entry"
        );
    }
}
