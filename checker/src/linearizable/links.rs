//! A doubly linked list over indices with O(1) removal and LIFO restoration
//! ("dancing links"): the search removes an operation when it linearizes it and
//! puts it back, in reverse order, when it backtracks.

pub const NIL: u32 = u32::MAX;

pub struct Links {
    next: Vec<u32>,
    /// The head's `prev` is the last node (the head itself when empty).
    prev: Vec<u32>,
}

impl Links {
    /// A list holding 0..len in order.
    pub fn new(len: usize) -> Self {
        let head = len as u32;
        let mut next = Vec::with_capacity(len + 1);
        let mut prev = Vec::with_capacity(len + 1);
        for i in 0..len as u32 {
            next.push(if i + 1 == head { NIL } else { i + 1 });
            prev.push(if i == 0 { head } else { i - 1 });
        }
        next.push(if len == 0 { NIL } else { 0 });
        prev.push(if len == 0 { head } else { head - 1 });
        Links { next, prev }
    }

    fn head(&self) -> u32 {
        (self.next.len() - 1) as u32
    }

    pub fn first(&self) -> u32 {
        self.next[self.head() as usize]
    }

    pub fn next(&self, i: u32) -> u32 {
        self.next[i as usize]
    }

    pub fn last(&self) -> u32 {
        self.before(self.head())
    }

    pub fn prev(&self, i: u32) -> u32 {
        self.before(i)
    }

    fn before(&self, i: u32) -> u32 {
        let p = self.prev[i as usize];
        if p == self.head() { NIL } else { p }
    }

    pub fn remove(&mut self, i: u32) {
        let (p, n) = (self.prev[i as usize], self.next[i as usize]);
        self.next[p as usize] = n;
        let after = if n == NIL { self.head() } else { n };
        self.prev[after as usize] = p;
    }

    /// Puts back the most recently removed node still out of the list.
    pub fn restore(&mut self, i: u32) {
        let (p, n) = (self.prev[i as usize], self.next[i as usize]);
        self.next[p as usize] = i;
        let after = if n == NIL { self.head() } else { n };
        self.prev[after as usize] = i;
    }

    pub fn bytes(&self) -> usize {
        (self.next.capacity() + self.prev.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list front to back, checked against its walk back to front.
    fn collect(l: &Links) -> Vec<u32> {
        let mut out = vec![];
        let mut i = l.first();
        while i != NIL {
            out.push(i);
            i = l.next(i);
        }
        let mut back = vec![];
        let mut i = l.last();
        while i != NIL {
            back.push(i);
            i = l.prev(i);
        }
        back.reverse();
        assert_eq!(out, back);
        out
    }

    #[test]
    fn remove_and_restore_in_reverse_order() {
        let mut l = Links::new(5);
        l.remove(0);
        l.remove(3);
        l.remove(4);
        assert_eq!(collect(&l), vec![1, 2]);
        l.remove(2);
        l.remove(1);
        assert_eq!(collect(&l), Vec::<u32>::new());
        l.restore(1);
        l.restore(2);
        l.restore(4);
        l.restore(3);
        l.restore(0);
        assert_eq!(collect(&l), vec![0, 1, 2, 3, 4]);
        assert_eq!(collect(&Links::new(0)), Vec::<u32>::new());
    }
}
