//! A corpus repro that no longer replays the run it recorded fails the
//! corpus step (`ci/corpus.sh`), and `replay --refresh` regenerates it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A passing run's repro in `dir/corpus/`, with its recorded hash.
fn passing_repro(dir: &Path) -> (PathBuf, String) {
    let runs = dir.join("runs");
    let status = faultline()
        .args([
            "run",
            "--scenario",
            "single-member",
            "--seeds",
            "3..4",
            "--keep",
            "--out",
        ])
        .arg(&runs)
        .output()
        .expect("faultline runs");
    assert!(status.status.success(), "{status:?}");
    let repro = runs.join("single-member-3").join("repro.toml");
    let text = std::fs::read_to_string(&repro).expect("repro written");
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("trace_hash = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a trace_hash line")
        .to_string();
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).expect("corpus folder");
    let file = corpus.join("single-member-3.toml");
    std::fs::write(&file, text).expect("repro copied");
    (file, hash)
}

fn corpus_step(dir: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("ci/corpus.sh"))
        .arg(env!("CARGO_BIN_EXE_faultline"))
        .arg(dir.join("corpus"))
        .arg(dir.join("logs"))
        .output()
        .expect("bash runs the corpus step")
}

#[test]
fn a_drifted_repro_fails_the_corpus_step_until_refreshed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (file, hash) = passing_repro(dir.path());
    assert!(
        corpus_step(dir.path()).status.success(),
        "the fresh repro replays"
    );

    // The repro now records a run this code does not produce.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace(&hash, "0123456789abcdef")).unwrap();
    let out = corpus_step(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a drifted repro must fail: {stdout}");
    assert!(
        stdout.contains("differs from the repro's 0123456789abcdef"),
        "{stdout}"
    );
    assert!(stdout.contains("ci/refresh-corpus.sh"), "{stdout}");

    let replay = faultline().arg("replay").arg(&file).output().unwrap();
    assert_eq!(replay.status.code(), Some(4));
    let allowed = faultline()
        .args(["replay", "--allow-drift"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(allowed.status.code(), Some(0));

    let refreshed = faultline()
        .args(["replay", "--refresh"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(refreshed.status.code(), Some(0), "{refreshed:?}");
    assert!(std::fs::read_to_string(&file).unwrap().contains(&hash));
    assert!(
        corpus_step(dir.path()).status.success(),
        "refreshed repro replays"
    );
}
