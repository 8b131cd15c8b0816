//! One row of the timeline: a label on the left and positioned items on
//! the shared time axis.

use crate::html::escape;

use super::scale::Scale;

/// A timeline row.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    /// Shown in the label column.
    pub label: String,
    /// Tooltip of the label.
    pub title: String,
    /// Extra CSS class of the row (`client`, `member`, `fault`, `group`).
    pub class: &'static str,
    /// The row's positioned items (HTML).
    pub items: String,
}

impl Lane {
    pub fn new(label: impl Into<String>, class: &'static str) -> Self {
        Lane {
            label: label.into(),
            class,
            ..Default::default()
        }
    }

    /// A heading row for a group of lanes.
    pub fn group(label: impl Into<String>) -> Self {
        Lane::new(label, "group")
    }

    /// Adds a bar from `from` to `to` with a CSS class, tooltip and text.
    pub fn bar(
        &mut self,
        scale: &Scale,
        (from, to): (u64, u64),
        class: &str,
        title: &str,
        text: &str,
    ) {
        self.items.push_str(&format!(
            "<div class=\"bar {class}\" style=\"left:{};width:{}\" title=\"{}\">{}</div>",
            scale.left(from),
            scale.width(from, to),
            escape(title),
            escape(text)
        ));
    }

    /// Adds a marker glyph at `at`.
    pub fn marker(&mut self, scale: &Scale, at: u64, class: &str, glyph: &str, title: &str) {
        self.items.push_str(&format!(
            "<span class=\"mk {class}\" style=\"left:{}\" title=\"{}\">{glyph}</span>",
            scale.left(at),
            escape(title)
        ));
    }
}

/// Assigns intervals to as few rows as possible so none overlap: each goes
/// to the first row free at its start. Returns the row of each interval.
pub(crate) fn pack(intervals: &[(u64, u64)]) -> Vec<usize> {
    let mut row_ends: Vec<u64> = Vec::new();
    intervals
        .iter()
        .map(
            |&(from, to)| match row_ends.iter().position(|&end| end <= from) {
                Some(row) => {
                    row_ends[row] = to.max(from + 1);
                    row
                }
                None => {
                    row_ends.push(to.max(from + 1));
                    row_ends.len() - 1
                }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_overlapping_intervals_into_rows() {
        assert_eq!(
            pack(&[(0, 10), (5, 15), (10, 20), (16, 30)]),
            vec![0, 1, 0, 1]
        );
        assert_eq!(pack(&[(3, 3), (3, 3)]), vec![0, 1]);
    }
}
