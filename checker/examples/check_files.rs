//! Checks faultline history files with the etcd model and prints one line per
//! file (verdict, failed rules, time): `cargo run -p checker --release
//! --example check_files -- FILE... [--timeout SECS] [--verbose]`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use checker::command::{CheckFileOptions, InputFormat, ModelKind, check_file};

fn main() -> ExitCode {
    let mut timeout = Duration::from_secs(60);
    let mut verbose = false;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--timeout" => match args.next().and_then(|s| s.parse().ok()) {
                Some(secs) => timeout = Duration::from_secs(secs),
                None => {
                    eprintln!("--timeout needs a number of seconds");
                    return ExitCode::from(2);
                }
            },
            "--verbose" => verbose = true,
            _ => files.push(a),
        }
    }
    let options = CheckFileOptions {
        model: ModelKind::Etcd,
        format: InputFormat::Faultline,
        timeout,
        partition: true,
    };
    let mut worst = 0;
    for f in files {
        let start = Instant::now();
        match check_file(std::path::Path::new(&f), &options) {
            Ok(outcome) => {
                let code = outcome.exit_code();
                worst = worst.max(code);
                println!("{f}: exit {code} in {:.3} s", start.elapsed().as_secs_f64());
                if verbose || code != 0 {
                    println!("{outcome}");
                }
            }
            Err(e) => {
                worst = worst.max(2);
                println!("{e}");
            }
        }
    }
    ExitCode::from(worst as u8)
}
