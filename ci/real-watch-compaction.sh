#!/usr/bin/env bash
# What the real runs in DIR (`faultline run --target etcd ... --out DIR`)
# say about watch.cancel-on-compaction's premises, one line per run and a
# total:
# - gap: the largest difference between the revision a put was answered at
#   and the first revision a watch's member delivered its value at (later
#   ones are rewrites keeping the value); nonzero: the answering member and
#   the watch's member number revisions apart (etcd-18667), positive: the
#   watch's member ahead; so one member's answer revision says nothing
#   certain about another's state;
# - owed: watches whose member said it had compacted past their start
#   before they were requested (`member_compacted`), then how many were
#   cancelled with a compact revision and how many delivered events
#   before any (the rule's violations);
# - old: watches the rule before commit 5d25201 failed (a compaction past
#   their start answered below their creation revision, events delivered
#   before any compaction cancel).
# Needs jq. Usage: ci/real-watch-compaction.sh DIR
set -euo pipefail
dir=${1:?usage: ci/real-watch-compaction.sh DIR}
total_runs=0 apart=0 ahead2=0 largest=0 owed=0 cancelled=0 resumed=0 old=0
for history in "$dir"/*/history.jsonl; do
  line=$(jq -rs '
    def abs: if . < 0 then -. else . end;
    ([.[] | select(.type == "op" and .result.ok.put != null)
          | {key: .request.put.value, value: .result.ok.put.header_revision}]
     | from_entries) as $answered
    | [.[] | select(.type == "watch")] as $watches
    | ([$watches[] | .member as $member | .responses[].events[]
        | select(.kind == "put" and $answered[.kv.value] != null)
        | {member: $member, value: .kv.value, revision: .kv.mod_revision}]
       | group_by([.member, .value])
       | map((map(.revision) | min) - $answered[.[0].value])
       | (max_by(abs) // 0)) as $gap
    | [$watches[] | select(.request.start_revision > 0
                           and (.member_compacted // 0) > .request.start_revision)] as $owed
    | [.[] | select(.type == "op" and .result.ok.compact.header_revision > 0)
           | {revision: .request.compact.revision, at: .result.ok.compact.header_revision}]
      as $compactions
    | def cancelled: any(.responses[]; .canceled and .compact_revision > 0);
      # Events delivered before any compaction cancel: "resumed" in the rule.
      def resumed:
        ([.responses | to_entries[] | select(.value.events | length > 0) | .key]
         | first // null) as $event
        | ([.responses | to_entries[]
            | select(.value.canceled and .value.compact_revision > 0) | .key]
           | first // null) as $cancel
        | $event != null and ($cancel == null or $event < $cancel);
      [$watches[] | select(.request.start_revision > 0 and (.responses | length) > 0)
        | . as $w
        | select(any($compactions[]; .revision > $w.request.start_revision
                                     and .at < $w.responses[0].header_revision))
        | select(resumed)] as $old
    | [$gap,
       ($owed | length),
       ([$owed[] | select(cancelled)] | length),
       ([$owed[] | select(resumed)] | length),
       ($old | length)]
    | @tsv' "$history")
  read -r gap o c r x <<< "$line"
  echo "$(basename "$(dirname "$history")") gap=$gap owed=$o cancelled=$c resumed=$r old=$x"
  total_runs=$((total_runs + 1))
  [ "$gap" -ne 0 ] && apart=$((apart + 1))
  [ "$gap" -ge 2 ] && ahead2=$((ahead2 + 1))
  [ "${gap#-}" -gt "${largest#-}" ] && largest=$gap
  owed=$((owed + o)) cancelled=$((cancelled + c)) resumed=$((resumed + r)) old=$((old + x))
done
echo "runs=$total_runs members_apart=$apart watch_member_ahead_by_2_or_more=$ahead2 largest_gap=$largest owed=$owed cancelled=$cancelled resumed=$resumed old=$old"
