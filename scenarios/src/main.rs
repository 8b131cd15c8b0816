//! `faultline`: run seeded simulations, replay them, list what exists, and
//! check histories. Exit codes: 0 every property holds, 1 a violation, 2
//! bad input or usage, 3 inconclusive.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::main() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("faultline: {e:#}");
            ExitCode::from(2)
        }
    }
}
