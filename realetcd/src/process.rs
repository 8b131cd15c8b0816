//! A child process that never outlives us: started with
//! `PR_SET_PDEATHSIG`, killed and reaped on drop, and signalled by pid
//! (SIGSTOP/SIGCONT/SIGTERM/SIGKILL) for the process faults.
//!
//! The kernel sends the death signal when the *thread* that started the
//! child ends, not only the process: a cluster must be started (and its
//! members restarted) from a thread that outlives it, as the tests' and
//! the command line's threads do.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running (or ended but not yet dropped) child.
pub struct Process {
    child: Child,
    ended: Option<ExitStatus>,
}

impl Process {
    /// Starts `command` with stdin closed and stdout and stderr appended to
    /// `log` (appended, so the log of every start of a member is kept).
    pub fn spawn(mut command: Command, log: &Path) -> std::io::Result<Process> {
        let log = File::options().create(true).append(true).open(log)?;
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: prctl and getppid are async-signal-safe, and nothing else
        // runs between fork and exec. The parent check closes the window in
        // which we died before prctl took effect: the child would then have
        // been adopted and must not run on unwatched.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        Ok(Process {
            child: command.spawn()?,
            ended: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal`. A process that already ended (but is not reaped, so
    /// its pid cannot have been reused) ignores it.
    pub fn signal(&self, signal: libc::c_int) -> std::io::Result<()> {
        // SAFETY: kill has no memory effects; the pid is our unreaped child.
        if unsafe { libc::kill(self.child.id() as libc::pid_t, signal) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether the process has ended (reaping it if so).
    pub fn has_ended(&mut self) -> bool {
        if self.ended.is_none() {
            self.ended = self.child.try_wait().ok().flatten();
        }
        self.ended.is_some()
    }

    /// Waits up to `limit` for the process to end on its own.
    pub async fn wait_end(&mut self, limit: Duration) -> bool {
        let started = Instant::now();
        while !self.has_ended() {
            if started.elapsed() >= limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// SIGKILL, then reap. A stopped process dies of SIGKILL too.
    pub fn kill(&mut self) {
        if !self.has_ended() {
            let _ = self.child.kill();
            self.ended = self.child.wait().ok();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
