//! `faultline`: run seeded simulations, replay them, list what exists, and
//! check histories. Exit codes: 0 every property holds, 1 a violation, 2
//! bad input or usage, 3 inconclusive.

mod cli;

use std::process::ExitCode;

/// A simulated run allocates and frees small buffers at every message,
/// request and log entry; glibc's allocator took about 16% of a standard
/// run's instructions (see README, "How fast the store is"). Allocation
/// addresses never reach a run's behaviour, so this changes no trace.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The filter without `FAULTLINE_LOG`: errors only, and none of madsim's
/// per-task spans. madsim opens an error-level span for every task and
/// enters it on every poll; with no log line to prefix, keeping them cost
/// about 7% of a simulated run's CPU (`faultline run --scenario standard
/// --seeds 0..10 --jobs 1`). `FAULTLINE_LOG=error` brings them back.
const QUIET: &str = "error,madsim::sim::task=off";

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_e`
/// (mimalloc.h, v3), for which the sys crate names no constant. The test
/// below checks its default is the purge delay's 1,000 ms (options.c, v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Each simulated run lives on its own thread and frees everything at its
/// end; mimalloc hands such memory back to the kernel a second later, and the
/// next run takes it again, a fresh 2 MiB huge page at a time that the
/// kernel must zero (about 9% of a standard run's CPU under `perf`). A
/// campaign's memory stays at one run per worker, so keeping it costs
/// nothing a campaign would miss.
fn keep_freed_memory() {
    // SAFETY: mimalloc's options may be set at any time from any thread;
    // the option and the value (-1, never purge) are ones mimalloc.h lists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

fn main() -> ExitCode {
    end_quietly_on_a_closed_pipe();
    keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(QUIET)),
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

/// `faultline run ... | head` closes our stdout early. Rust ignores SIGPIPE,
/// so the next `println!` would panic; restoring the default disposition
/// ends the process the way it ends every other Unix tool (status 141 under
/// `set -o pipefail`), with nothing printed to the closed pipe lost that a
/// reader wanted.
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: runs first in main, before any other thread exists, and
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_documents() {
        // SAFETY: reading an option is always allowed.
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000, "mimalloc's option order changed");
    }
}
