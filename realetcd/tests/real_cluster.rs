//! Real etcd clusters on loopback (Debian's etcd-server, which ci/test.sh
//! installs, or $FAULTLINE_ETCD): they elect a leader and serve through
//! every member, the proxy's partition really cuts a member off, the
//! process faults leave a cluster that serves, and nothing survives the
//! cluster.

mod common;

use common::{binary, runtime};
use realetcd::cluster::Cluster;
use realetcd::harness;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_secs(2);
const REQUEST: Duration = Duration::from_secs(5);

async fn three() -> Cluster {
    Cluster::start(&binary(), 3)
        .await
        .unwrap_or_else(|e| panic!("a 3-member cluster starts: {e}"))
}

/// Polls `get` through member `i` until it reads `want`, for up to `limit`.
async fn eventually_reads(
    cluster: &mut Cluster,
    i: usize,
    key: &str,
    want: &str,
    linearizable: bool,
    limit: Duration,
) {
    let started = Instant::now();
    loop {
        let got = cluster.get(i, key, linearizable, SHORT).await;
        if matches!(&got, Ok(Some(v)) if v == want) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "m{i} still reads {key} as {got:?}, not {want}, after {limit:?}; its log:\n{}",
            cluster.log_tail(i, 20)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A member other than `not` (and `nor`).
fn other(cluster: &Cluster, not: usize, nor: usize) -> usize {
    (0..cluster.size())
        .find(|&i| i != not && i != nor)
        .expect("a 3-member cluster has a third member")
}

#[test]
fn three_members_elect_a_leader_and_serve_through_each() {
    runtime().block_on(async {
        let mut cluster = three().await;
        assert!(cluster.leader().await.is_some());
        for i in 0..3 {
            let key = format!("k{i}");
            cluster
                .put(i, &key, &format!("v{i}"), REQUEST)
                .await
                .unwrap_or_else(|e| panic!("put through m{i}: {e}"));
            // Linearizable: every member reads it at once, not eventually.
            for j in 0..3 {
                let got = cluster.get(j, &key, true, REQUEST).await;
                assert_eq!(
                    got.ok().flatten(),
                    Some(format!("v{i}")),
                    "m{j} reads {key}"
                );
            }
        }
        // Every peer connection came from one of the members.
        assert_eq!(cluster.network().unattributed(), 0);
        // Each member's log, for a run folder to keep.
        let logs: Vec<_> = cluster.logs().map(|(n, p)| (n.to_string(), p)).collect();
        assert_eq!(
            logs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["m0", "m1", "m2"]
        );
        for (name, log) in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                text.contains("etcd"),
                "{name}'s log {} is empty",
                log.display()
            );
        }
    });
}

#[test]
fn an_isolated_member_cannot_serve_a_linearizable_read_and_catches_up_after() {
    runtime().block_on(async {
        let mut cluster = three().await;
        let leader = cluster.leader().await.expect("a leader");
        let follower = other(&cluster, leader, leader);
        cluster
            .put(leader, "x", "before", REQUEST)
            .await
            .expect("put");
        // The put was answered once a majority had it, which may not have
        // included the follower yet: wait until it applied it.
        eventually_reads(&mut cluster, follower, "x", "before", false, SHORT).await;
        cluster.isolate(follower);
        cluster
            .put(leader, "x", "during", REQUEST)
            .await
            .expect("the majority writes");
        let third = other(&cluster, leader, follower);
        assert_eq!(
            cluster
                .get(third, "x", true, REQUEST)
                .await
                .expect("the majority reads"),
            Some("during".into())
        );
        // The isolated member cannot confirm it is current: no answer, or an
        // error, but never a value.
        let read = cluster.get(follower, "x", true, SHORT).await;
        assert!(read.is_err(), "an isolated member answered {read:?}");
        // Its own store has not seen the write.
        assert_eq!(
            cluster
                .get(follower, "x", false, SHORT)
                .await
                .expect("serializable"),
            Some("before".into())
        );
        cluster.heal();
        eventually_reads(
            &mut cluster,
            follower,
            "x",
            "during",
            true,
            Duration::from_secs(12),
        )
        .await;
    });
}

/// The proxy's model of directions against etcd's own peer protocol: with
/// only what a follower sends the leader cut, the leader's appends still
/// reach it (they travel in the responses of streams the follower opened),
/// while its linearizable read, which needs the leader's answer to its own
/// request, does not complete.
#[test]
fn a_one_way_cut_from_a_follower_still_carries_the_leader_s_appends() {
    runtime().block_on(async {
        let mut cluster = three().await;
        let leader = cluster.leader().await.expect("a leader");
        let follower = other(&cluster, leader, leader);
        cluster
            .put(leader, "w", "before", REQUEST)
            .await
            .expect("put");
        eventually_reads(&mut cluster, follower, "w", "before", false, SHORT).await;
        cluster.cut(follower, leader);
        cluster
            .put(leader, "w", "after", REQUEST)
            .await
            .expect("put");
        eventually_reads(&mut cluster, follower, "w", "after", false, SHORT).await;
        let read = cluster.get(follower, "w", true, SHORT).await;
        assert!(
            read.is_err(),
            "the leader's answer crossed the cut: {read:?}"
        );
        cluster.heal();
        eventually_reads(
            &mut cluster,
            follower,
            "w",
            "after",
            true,
            Duration::from_secs(10),
        )
        .await;
    });
}

#[test]
fn a_killed_leader_restarts_with_the_data_written_while_it_was_down() {
    runtime().block_on(async {
        let mut cluster = three().await;
        let leader = cluster.leader().await.expect("a leader");
        cluster.put(leader, "a", "1", REQUEST).await.expect("put");
        cluster.kill(leader).expect("SIGKILL");
        assert!(cluster.pid(leader).is_none());
        let new_leader = cluster
            .wait_leader(Duration::from_secs(10))
            .await
            .expect("the others elect a leader");
        assert_ne!(new_leader, leader);
        cluster
            .put(new_leader, "b", "2", REQUEST)
            .await
            .expect("put without the old leader");
        cluster
            .start_member(leader)
            .await
            .expect("restart on the same data");
        // From its own store: what it had (from its data directory) and
        // what it missed (from the leader).
        eventually_reads(
            &mut cluster,
            leader,
            "a",
            "1",
            false,
            Duration::from_secs(10),
        )
        .await;
        eventually_reads(
            &mut cluster,
            leader,
            "b",
            "2",
            false,
            Duration::from_secs(10),
        )
        .await;
        cluster
            .put(leader, "c", "3", REQUEST)
            .await
            .expect("it serves writes");
    });
}

#[test]
fn members_that_cannot_agree_on_a_leader_are_reported_with_what_each_said_and_its_log() {
    runtime().block_on(async {
        let mut cluster = three().await;
        let leader = cluster.leader().await.expect("a leader");
        let follower = other(&cluster, leader, leader);
        let last = other(&cluster, leader, follower);
        cluster.kill(leader).expect("SIGKILL");
        cluster.kill(follower).expect("SIGKILL");
        let error = cluster
            .wait_leader(Duration::from_secs(3))
            .await
            .expect_err("one member of three has no quorum to elect");
        let text = error.to_string();
        for i in [leader, follower] {
            assert!(
                text.contains(&format!("{}: not running", cluster.name(i))),
                "{text}"
            );
        }
        let survivor = format!("{}: member id ", cluster.name(last));
        assert!(text.contains(&survivor), "{text}");
        assert!(text.contains("leader 0,"), "{text}");
        // Its log lines follow what it said (etcd logs its campaigns).
        let after = text
            .lines()
            .skip_while(|l| !l.starts_with(&survivor))
            .nth(1)
            .unwrap_or_default();
        assert!(!after.trim().is_empty(), "{text}");
    });
}

#[test]
fn a_paused_member_answers_nothing_until_resumed() {
    runtime().block_on(async {
        let mut cluster = three().await;
        let leader = cluster.leader().await.expect("a leader");
        let follower = other(&cluster, leader, leader);
        cluster.pause(follower).expect("SIGSTOP");
        cluster
            .put(leader, "p", "1", REQUEST)
            .await
            .expect("the others write");
        let read = cluster.get(follower, "p", false, SHORT).await;
        assert!(read.is_err(), "a paused member answered {read:?}");
        cluster.resume(follower).expect("SIGCONT");
        eventually_reads(
            &mut cluster,
            follower,
            "p",
            "1",
            true,
            Duration::from_secs(10),
        )
        .await;
    });
}

#[test]
fn a_replaced_member_rejoins_empty_and_gets_the_data() {
    runtime().block_on(async {
        let mut cluster = three().await;
        let leader = cluster.leader().await.expect("a leader");
        let follower = other(&cluster, leader, leader);
        cluster.put(leader, "r", "1", REQUEST).await.expect("put");
        let old_pid = cluster.pid(follower);
        cluster.replace(follower).await.expect("replace");
        assert_ne!(cluster.pid(follower), old_pid);
        eventually_reads(
            &mut cluster,
            follower,
            "r",
            "1",
            false,
            Duration::from_secs(10),
        )
        .await;
        cluster
            .put(follower, "s", "2", REQUEST)
            .await
            .expect("the new member serves");
    });
}

/// Processes whose command line names `folder`.
fn processes_naming(folder: &Path) -> Vec<String> {
    let needle = folder.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline
                .contains(&needle)
                .then(|| format!("{}: {cmdline}", e.file_name().to_string_lossy()))
        })
        .collect()
}

#[test]
fn nothing_survives_a_cluster_dropped_by_a_panic() {
    let rt = runtime();
    let seen = std::sync::Mutex::new(None);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let mut cluster = three().await;
            // A restarted process must be tracked as well as the first ones.
            let leader = cluster.leader().await.expect("a leader");
            cluster.crash(leader).await.expect("crash and restart");
            let fronts: Vec<_> = (0..3).map(|i| cluster.network().front(i)).collect();
            let root = cluster.root().to_path_buf();
            assert_eq!(processes_naming(&root).len(), 3, "three etcds run");
            *seen.lock().expect("lock") = Some((root, fronts));
            panic!("the test body fails with the cluster alive");
        })
    }));
    assert!(outcome.is_err());
    let (root, fronts) = seen
        .lock()
        .expect("lock")
        .take()
        .expect("the cluster started");
    // The proxy tasks were aborted; the runtime drops them when it runs.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    assert_eq!(processes_naming(&root), Vec::<String>::new());
    assert!(!root.exists(), "{} is left", root.display());
    for front in fronts {
        assert!(
            std::net::TcpStream::connect(front).is_err(),
            "the proxy still listens on {front}"
        );
    }
}

/// SIGKILL of the program leaves it no chance to clean up: the kernel
/// kills its etcds (PR_SET_PDEATHSIG), and the next cluster started
/// removes the folder it left.
#[test]
fn a_killed_program_leaves_no_etcd_and_its_folder_is_reaped() {
    use std::io::{BufRead, BufReader};
    let mut program = std::process::Command::new(env!("CARGO_BIN_EXE_faultline-etcd"))
        .args(["cluster", "--members", "3", "--seconds", "30"])
        .env(harness::BINARY_VARIABLE, binary())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("faultline-etcd runs");
    let stdout = program.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a first line");
    // "   2.31s  start: 3 members in /tmp/faultline-cluster-PID-XXXX, leader m1 (..)"
    let root = PathBuf::from(
        first
            .split(" in ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("no folder in {first:?}")),
    );
    assert_eq!(processes_naming(&root).len(), 3, "{first}");
    program.kill().expect("SIGKILL");
    program.wait().expect("reaped");
    let started = Instant::now();
    while !processes_naming(&root).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "etcds outlived their program: {:?}",
            processes_naming(&root)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(root.exists(), "nobody could remove the folder yet");
    runtime().block_on(async {
        let _next = Cluster::start(&binary(), 1)
            .await
            .expect("a cluster starts");
    });
    assert!(!root.exists(), "{} was not reaped", root.display());
}
