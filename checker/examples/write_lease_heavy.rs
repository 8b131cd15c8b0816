//! Writes the benchmark's generated lease-heavy history (20,000 operations,
//! 8 clients, lease and key expiries) as a faultline history file, so that
//! whole `faultline check` processes can be timed on it: `cargo run -p
//! checker --release --example write_lease_heavy -- OUT.jsonl [OPERATIONS]`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;

use support::leases::{LeaseGenConfig, generate_leases};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: write_lease_heavy OUT.jsonl [OPERATIONS]");
        return ExitCode::from(2);
    };
    let operations = match args.next().map(|n| n.parse::<usize>()) {
        None => 20_000,
        Some(Ok(n)) if n > 0 && n <= 10_000_000 => n,
        Some(_) => {
            eprintln!("OPERATIONS: expected a whole number from 1 to 10000000");
            return ExitCode::from(2);
        }
    };
    let history = generate_leases(&LeaseGenConfig::benchmark(operations));
    let text = checker::jsonl::to_string(&history, None);
    if let Err(e) = std::fs::write(&out, text) {
        eprintln!("{out}: cannot write: {e}");
        return ExitCode::from(2);
    }
    println!("{out}: {} operations", history.operations.len());
    ExitCode::SUCCESS
}
