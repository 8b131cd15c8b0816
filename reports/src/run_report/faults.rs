//! Fault rows from the history's annotations: every fault (source `fault`)
//! as a bar from when it was applied to when it healed (to the end if it
//! never did), packed into as few rows as overlap allows; annotations of
//! other sources likewise, one group per source.

use std::collections::BTreeMap;

use checker::history::Annotation;

use crate::describe::{duration, seconds};

use super::lane::{Lane, pack};
use super::scale::Scale;

/// Rows for every annotation source, faults first.
pub(crate) fn annotation_lanes(annotations: &[Annotation], scale: &Scale) -> Vec<Lane> {
    let mut by_source: BTreeMap<(bool, &str), Vec<&Annotation>> = BTreeMap::new();
    for a in annotations {
        by_source
            .entry((a.source != "fault", a.source.as_str()))
            .or_default()
            .push(a);
    }
    let mut lanes = Vec::new();
    for ((_, source), mut list) in by_source {
        list.sort_by_key(|a| a.at);
        let is_fault = source == "fault";
        let spans: Vec<(u64, u64)> = list
            .iter()
            .map(|a| match a.end {
                Some(end) => (a.at, end.max(a.at)),
                // An unhealed fault lasts to the end; another note is an instant.
                None if is_fault => (a.at, scale.end_ns.max(a.at)),
                None => (a.at, a.at),
            })
            .collect();
        let rows = pack(&spans);
        let count = rows.iter().max().map_or(0, |r| r + 1);
        let label = if is_fault { "faults" } else { source };
        let mut source_lanes: Vec<Lane> = (0..count)
            .map(|i| {
                let mut lane = Lane::new(if i == 0 { label } else { "" }, "fault");
                lane.title = format!("{label}: {} annotations", list.len());
                lane
            })
            .collect();
        for ((a, &(from, to)), row) in list.iter().zip(&spans).zip(rows) {
            let lane = &mut source_lanes[row];
            let healed = match a.end {
                Some(_) => format!(
                    "{} to {} ({})",
                    seconds(from),
                    seconds(to),
                    duration(to - from)
                ),
                None if is_fault => format!("{}, never healed", seconds(from)),
                None => seconds(from),
            };
            let title = format!("{}\n{healed}", a.text);
            if from == to {
                lane.marker(scale, from, "note", "│", &title);
            } else {
                let class = if is_fault { "fault" } else { "note" };
                let class = match a.end {
                    None => format!("{class} open"),
                    Some(_) => class.to_string(),
                };
                lane.bar(scale, (from, to), &class, &title, &a.text);
            }
        }
        lanes.extend(source_lanes);
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(at: u64, end: Option<u64>, source: &str, text: &str) -> Annotation {
        Annotation {
            kind: None,
            at,
            end,
            source: source.into(),
            text: text.into(),
        }
    }

    #[test]
    fn faults_come_first_overlaps_get_rows_and_open_faults_run_to_the_end() {
        let lanes = annotation_lanes(
            &[
                note(5, None, "nemesis", "something"),
                note(0, Some(40), "fault", "partition {1} {2,3}"),
                note(20, None, "fault", "kill m2"),
            ],
            &Scale::new(100),
        );
        assert_eq!(lanes.len(), 3);
        assert_eq!(lanes[0].label, "faults");
        assert!(lanes[0].items.contains("partition"));
        assert!(
            lanes[1]
                .items
                .contains("bar fault open\" style=\"left:20.0000%;width:80.0000%"),
            "{}",
            lanes[1].items
        );
        assert_eq!(lanes[2].label, "nemesis");
        assert!(lanes[2].items.contains("mk note"));
    }
}
