//! Child processes the server runs beside itself (Janus nodes, coturn): start, wait until a
//! probe says the process serves, watch it, restart it after it dies (1 s, doubling to 16 s
//! while it keeps dying), stop it with the server.
//!
//! Each child is spawned with `kill_on_drop`, so a supervisor task that ends — because the
//! server stops or its runtime shuts down — takes its child with it. The child's stdout and
//! stderr go to `<run-dir>/<name>.log`, never into the server's own log.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Whether a supervised process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Spawned (or about to be), not answering its probe yet.
    Starting,
    /// Answering its probe. `epoch` counts the starts that reached this state: a new epoch is
    /// a new process that knows nothing its predecessors were told.
    Up { pid: u32, epoch: u64 },
    /// Running but its probe fails.
    Unresponsive { pid: u32, epoch: u64 },
    /// Exited; a restart is pending.
    Down,
    /// Stopped with the server.
    Stopped,
}

impl Health {
    pub fn is_up(self) -> bool {
        matches!(self, Health::Up { .. })
    }
}

/// An async check that the process serves (true) or not.
pub type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// What to run and how to tell it serves.
pub struct ProcessSpec {
    /// Short name used in logs and file names (`janus-0`, `turnserver`).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Where stdout and stderr go (appended).
    pub log_file: PathBuf,
    /// Written with the child's pid at every start, when set.
    pub pid_file: Option<PathBuf>,
    /// One line for people: what runs where (no secrets).
    pub describe: String,
    pub probe: Probe,
    /// How long a start may take before the probe must answer.
    pub ready_timeout: Duration,
}

/// The supervisor of one process.
pub struct Supervised {
    pub name: String,
    health: watch::Receiver<Health>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervised {
    /// Starts supervising `spec`; the first spawn happens at once.
    pub fn start(spec: ProcessSpec, stop: watch::Receiver<bool>) -> Supervised {
        let (tx, health) = watch::channel(Health::Starting);
        let name = spec.name.clone();
        let task = tokio::spawn(supervise(spec, tx, stop));
        Supervised { name, health, task }
    }

    pub fn health(&self) -> Health {
        *self.health.borrow()
    }

    /// A receiver of health changes.
    pub fn watch(&self) -> watch::Receiver<Health> {
        self.health.clone()
    }

    /// Waits until the process is up, or `timeout`.
    pub async fn wait_up(&self, timeout: Duration) -> bool {
        let mut rx = self.health.clone();
        tokio::time::timeout(timeout, rx.wait_for(|h| h.is_up()))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits for the supervisor to end (after stop was signalled).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(16);
/// A process that served this long before dying is restarted after the first back-off again.
const STABLE_AFTER: Duration = Duration::from_secs(30);
const HEALTH_EVERY: Duration = Duration::from_secs(5);

async fn supervise(
    spec: ProcessSpec,
    health: watch::Sender<Health>,
    mut stop: watch::Receiver<bool>,
) {
    let mut epoch = 0u64;
    let mut backoff = FIRST_BACKOFF;
    loop {
        if is_stopped(&stop) {
            break;
        }
        let _ = health.send(Health::Starting);
        let mut child = match spawn(&spec) {
            Ok(child) => child,
            Err(err) => {
                tracing::error!(
                    "{}: cannot start {}: {err}",
                    spec.name,
                    spec.program.display()
                );
                let _ = health.send(Health::Down);
                if sleep_or_stop(backoff, &mut stop).await {
                    break;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let pid = child.id().unwrap_or(0);
        if let Some(pid_file) = &spec.pid_file {
            if let Err(err) = std::fs::write(pid_file, format!("{pid}\n")) {
                tracing::warn!("{}: cannot write {}: {err}", spec.name, pid_file.display());
            }
        }

        // Until the probe answers.
        let deadline = Instant::now() + spec.ready_timeout;
        let mut ready = false;
        let mut exited = None;
        while Instant::now() < deadline {
            tokio::select! {
                status = child.wait() => { exited = Some(status); break; }
                _ = stop.changed() => break,
                ok = (spec.probe)() => {
                    if ok { ready = true; break; }
                    if sleep_or_stop(Duration::from_millis(100), &mut stop).await { break; }
                }
            }
        }
        if is_stopped(&stop) {
            let _ = child.kill().await;
            break;
        }
        let started = Instant::now();
        if ready {
            epoch += 1;
            let _ = health.send(Health::Up { pid, epoch });
            tracing::info!("{}: pid {pid}, {}", spec.name, spec.describe);
            // Serving: watch it until it exits or the server stops.
            let mut failures = 0u32;
            let status = loop {
                tokio::select! {
                    status = child.wait() => break Some(status),
                    _ = stop.changed() => break None,
                    () = tokio::time::sleep(HEALTH_EVERY) => {
                        if (spec.probe)().await {
                            failures = 0;
                            let _ = health.send_if_modified(|h| {
                                let changed = !h.is_up();
                                *h = Health::Up { pid, epoch };
                                changed
                            });
                        } else {
                            failures += 1;
                            if failures == 2 {
                                tracing::warn!("{}: pid {pid} does not answer", spec.name);
                                let _ = health.send(Health::Unresponsive { pid, epoch });
                            }
                        }
                    }
                }
            };
            match status {
                None => {
                    let _ = child.kill().await;
                    break;
                }
                Some(status) => exited = Some(status),
            }
        } else if exited.is_none() {
            tracing::warn!(
                "{}: pid {pid} did not answer within {:?}; see {}",
                spec.name,
                spec.ready_timeout,
                spec.log_file.display()
            );
            let _ = child.kill().await;
        }
        let _ = health.send(Health::Down);
        if started.elapsed() >= STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        let how = match exited {
            Some(Ok(status)) => status.to_string(),
            Some(Err(err)) => err.to_string(),
            None => "killed".to_owned(),
        };
        tracing::warn!(
            "{}: pid {pid} exited unexpectedly ({how}); restarting in {backoff:?} (log: {})",
            spec.name,
            spec.log_file.display()
        );
        if sleep_or_stop(backoff, &mut stop).await {
            break;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    let _ = health.send(Health::Stopped);
    tracing::info!("{}: stopped", spec.name);
}

fn spawn(spec: &ProcessSpec) -> std::io::Result<tokio::process::Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_file)?;
    tokio::process::Command::new(&spec.program)
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
}

/// Whether the server asked to stop (or is gone).
fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Sleeps `d`; true when the server stopped meanwhile.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if is_stopped(stop) {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(d) => is_stopped(stop),
        _ = stop.changed() => true,
    }
}

/// Finds `name` on PATH, unless `env_override` names a binary.
pub fn find_binary(name: &str, env_override: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_override) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
