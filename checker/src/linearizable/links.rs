//! A doubly linked list over indices with O(1) removal and LIFO restoration
//! ("dancing links"): the search removes an operation when it linearizes it and
//! puts it back, in reverse order, when it backtracks.

pub const NIL: u32 = u32::MAX;

pub struct Links {
    next: Vec<u32>,
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
        prev.push(NIL);
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

    pub fn remove(&mut self, i: u32) {
        let (p, n) = (self.prev[i as usize], self.next[i as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// Puts back the most recently removed node still out of the list.
    pub fn restore(&mut self, i: u32) {
        let (p, n) = (self.prev[i as usize], self.next[i as usize]);
        self.next[p as usize] = i;
        if n != NIL {
            self.prev[n as usize] = i;
        }
    }

    pub fn bytes(&self) -> usize {
        (self.next.capacity() + self.prev.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(l: &Links) -> Vec<u32> {
        let mut out = vec![];
        let mut i = l.first();
        while i != NIL {
            out.push(i);
            i = l.next(i);
        }
        out
    }

    #[test]
    fn remove_and_restore_in_reverse_order() {
        let mut l = Links::new(5);
        l.remove(0);
        l.remove(3);
        l.remove(4);
        assert_eq!(collect(&l), vec![1, 2]);
        l.restore(4);
        l.restore(3);
        l.restore(0);
        assert_eq!(collect(&l), vec![0, 1, 2, 3, 4]);
        assert_eq!(collect(&Links::new(0)), Vec::<u32>::new());
    }
}
