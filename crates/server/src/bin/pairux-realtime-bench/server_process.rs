//! The server under test, as a separate process (so its RSS is its own): this same binary
//! re-run with the hidden `serve` subcommand.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use crate::error::{BenchError, Context, Result};

/// What the child prints once it listens.
const READY: &str = "LISTENING ";

/// A running server child; killed (by its pid) when dropped.
pub struct ServerProcess {
    child: Child,
    /// Held open: the child exits when it reaches EOF, so it cannot outlive the benchmark.
    _stdin: ChildStdin,
    pub addr: SocketAddr,
    static_dir: PathBuf,
}

impl ServerProcess {
    /// Starts `<this exe> serve` on a free loopback port with limits high enough for the load.
    pub fn start(secret: &str) -> Result<ServerProcess> {
        let exe = std::env::current_exe().context("locating the benchmark binary")?;
        let static_dir = std::env::temp_dir().join(format!("pairux-bench-{}", std::process::id()));
        std::fs::create_dir_all(&static_dir).context("creating a static dir")?;
        std::fs::write(static_dir.join("index.html"), "<!doctype html>").context("index.html")?;
        let mut child = Command::new(exe)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg(format!("--jwt-secret={secret}"))
            .arg("--static")
            .arg(&static_dir)
            .args(["--realtime-max-connections", "100000"])
            // Every subscriber connects from 127.0.0.1.
            .args(["--realtime-max-connections-per-address", "0"])
            .args(["--realtime-max-joins-per-second", "1000000"])
            .args(["--realtime-max-events-per-second", "1000000"])
            .args(["--realtime-max-events-per-socket", "0"])
            .args(["--realtime-max-kb-per-socket", "0"])
            .args(["--realtime-idle-timeout-ms", "600000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning the server")?;
        let stdin = child.stdin.take().context("server stdin")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the server's address")?;
        let Some(addr) = line.trim().strip_prefix(READY) else {
            let _ = child.kill();
            return Err(BenchError::msg(format!("server did not start: {line:?}")));
        };
        let addr = addr.parse().context("parsing the server's address")?;
        Ok(ServerProcess {
            child,
            _stdin: stdin,
            addr,
            static_dir,
        })
    }

    /// Resident set size of the server process, in kB (from /proc).
    pub fn rss_kb(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .context("reading /proc/<pid>/status")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc/<pid>/status")
    }

    /// CPU time the server process has used so far.
    pub fn cpu(&self) -> Result<Duration> {
        cpu_of(&format!("/proc/{}/stat", self.child.id()))
    }
}

/// CPU time (user + system) of a process, from its `/proc/<pid>/stat`.
pub fn cpu_of(stat_path: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(stat_path).context("reading /proc/<pid>/stat")?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("parsing /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (user, system) = (ticks(11), ticks(12));
    let total = user
        .zip(system)
        .map(|(u, s)| u + s)
        .context("utime/stime in /proc/<pid>/stat")?;
    // /proc reports in USER_HZ, which Linux fixes at 100 per second.
    Ok(Duration::from_millis(total * 10))
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.static_dir);
    }
}

/// The `serve` subcommand: run pairux-server in this process until stdin closes.
pub fn serve(args: pairux_server::Args) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the server runtime")?;
    runtime.block_on(async {
        let server = pairux_server::start(args)
            .await
            .context("starting the server")?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{READY}{}", server.addr()).context("announcing the address")?;
        stdout.flush().context("flushing stdout")?;
        // EOF on stdin means the benchmark is gone: stop.
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        })
        .await
        .context("waiting for stdin")?;
        server.stop().await.context("stopping the server")
    })
}
