//! Child processes with deadlines: every wait is bounded, and children
//! die with us (PR_SET_PDEATHSIG) so nothing outlives the demo.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The program `name` in PATH, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Make the child get SIGKILL when this process dies.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe; nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Wait for `child` until `timeout`; past it, SIGKILL it (by its PID) and
/// return None.
pub fn wait_until(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn reader(src: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    src.map(|mut s| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = s.read_to_end(&mut v);
            v
        })
    })
}

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run `cmd` with its output captured; Err if it cannot start or takes
/// longer than `timeout` (then it is killed).
pub fn run_timed(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    let name = format!("{:?}", cmd.get_program());
    let mut child = die_with_parent(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = wait_until(&mut child, timeout).map_err(|e| format!("waiting for {name}: {e}"))?;
    // The pipes close when the child is gone (unless it left a grandchild
    // holding them; ours do not).
    let join = |h: Option<JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    };
    let stdout = join(out);
    let stderr = join(err);
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{name} did not finish within {} s and was killed; its stderr: {}",
            timeout.as_secs(),
            stderr.trim()
        )),
    }
}

/// Run a short configuration command (e.g. `ip ...`); Err says what failed.
pub fn run_ok(program: &str, args: &[&str]) -> Result<(), String> {
    let out = run_timed(Command::new(program).args(args), Duration::from_secs(10))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            out.stderr.trim()
        ))
    }
}
