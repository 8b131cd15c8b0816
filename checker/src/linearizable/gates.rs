//! The optional operations behind each gate ([`super::Model::gate`]): a
//! sorted table, so that a gate the model opens finds its operations in a
//! binary search, without hashing.

/// Per gate, the nodes (optional operations, in call order) behind it.
#[derive(Default)]
pub struct Gates {
    /// Distinct gates, ascending.
    gates: Vec<u64>,
    /// `nodes[starts[i]..starts[i + 1]]` are behind `gates[i]`.
    starts: Vec<u32>,
    nodes: Vec<u32>,
}

impl Gates {
    /// From (gate, node) pairs, nodes given in call order.
    pub fn new(mut pairs: Vec<(u64, u32)>) -> Self {
        // Stable: a gate's nodes stay in call order.
        pairs.sort_by_key(|&(gate, _)| gate);
        let mut table = Gates::default();
        for (gate, node) in pairs {
            if table.gates.last() != Some(&gate) {
                table.gates.push(gate);
                table.starts.push(table.nodes.len() as u32);
            }
            table.nodes.push(node);
        }
        table.starts.push(table.nodes.len() as u32);
        table
    }

    pub fn is_empty(&self) -> bool {
        self.gates.is_empty()
    }

    /// The nodes behind `gate`, in call order (none for an unknown gate).
    pub fn nodes(&self, gate: u64) -> &[u32] {
        match self.gates.binary_search(&gate) {
            Ok(i) => &self.nodes[self.starts[i] as usize..self.starts[i + 1] as usize],
            Err(_) => &[],
        }
    }

    pub fn bytes(&self) -> usize {
        self.gates.capacity() * 8 + (self.starts.capacity() + self.nodes.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_gate_finds_its_nodes_in_call_order() {
        let table = Gates::new(vec![(9, 0), (3, 1), (9, 2), (5, 3), (3, 4)]);
        assert_eq!(table.nodes(3), &[1, 4]);
        assert_eq!(table.nodes(9), &[0, 2]);
        assert_eq!(table.nodes(5), &[3]);
        assert!(table.nodes(4).is_empty());
        assert!(Gates::new(vec![]).is_empty());
        assert!(Gates::new(vec![]).nodes(1).is_empty());
    }
}
