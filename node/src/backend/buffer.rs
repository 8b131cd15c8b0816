//! etcd's transaction buffers. Writes made under the batch transaction go
//! into a write buffer; when the transaction is released they are written
//! back into the read buffer, which readers consult on top of the committed
//! data until the next commit empties it. Each bucket buffer is a sorted
//! list of (key, value), as in etcd, because range reads merge it with the
//! committed data in key order.

use super::bucket::Bucket;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketBuffer {
    /// (key, value) pairs; sorted and unique after `sort_dedup`.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl BucketBuffer {
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.entries.push((key, value));
    }

    /// Sorts by key; of repeated keys the last written wins.
    pub fn sort_dedup(&mut self) {
        // A stable sort keeps write order among equal keys; keep the last.
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(self.entries.len());
        for (k, v) in self.entries.drain(..) {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        self.entries = out;
    }

    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()
            .map(|i| self.entries[i].1.as_slice())
    }

    /// Pairs with `start <= key < end` (`end` empty = only `start`).
    pub fn range<'a>(
        &'a self,
        start: &'a [u8],
        end: &'a [u8],
    ) -> impl Iterator<Item = &'a (Vec<u8>, Vec<u8>)> + 'a {
        let from = self.entries.partition_point(|(k, _)| k.as_slice() < start);
        self.entries[from..].iter().take_while(move |(k, _)| {
            if end.is_empty() {
                k.as_slice() == start
            } else {
                k.as_slice() < end
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// One buffer per bucket.
#[derive(Debug, Clone, Default)]
pub struct TxBuffer {
    pub buckets: BTreeMap<Bucket, BucketBuffer>,
}

impl TxBuffer {
    pub fn put(&mut self, bucket: Bucket, key: Vec<u8>, value: Vec<u8>) {
        self.buckets.entry(bucket).or_default().put(key, value);
    }

    pub fn bucket(&self, bucket: Bucket) -> Option<&BucketBuffer> {
        self.buckets.get(&bucket)
    }

    pub fn reset(&mut self) {
        self.buckets.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.values().all(BucketBuffer::is_empty)
    }

    /// Writes this (write) buffer back into the read buffer and empties it.
    /// `alias_into_empty` reproduces etcd-17247: when the read buffer has no
    /// entries for a bucket, etcd took over the write buffer's bucket
    /// without sorting and deduplicating it.
    pub fn writeback(&mut self, read: &mut TxBuffer, alias_into_empty: bool) {
        for (bucket, mut wb) in std::mem::take(&mut self.buckets) {
            let rb = read.buckets.entry(bucket).or_default();
            if rb.is_empty() {
                if !alias_into_empty {
                    wb.sort_dedup();
                }
                *rb = wb;
                continue;
            }
            rb.entries.extend(wb.entries);
            rb.sort_dedup();
        }
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
        b.sort_dedup();
        assert_eq!(b.entries, vec![kv("a", "1"), kv("b", "2"), kv("c", "1")]);
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
        assert_eq!(rb.entries, vec![kv("1", "z"), kv("2", "x")]);
    }

    #[test]
    fn aliasing_an_unsorted_write_buffer_leaves_duplicates() {
        let mut read = TxBuffer::default();
        let mut write = TxBuffer::default();
        write.put(Bucket::Key, b"1".to_vec(), b"a".to_vec());
        write.put(Bucket::Key, b"1".to_vec(), b"b".to_vec());
        write.writeback(&mut read, true);
        assert_eq!(read.bucket(Bucket::Key).map(|b| b.len()), Some(2));
    }
}
