//! `pairux-realtime-bench`: load benchmark of pairux-server's Realtime endpoint, on loopback,
//! bounded in time.
//!
//! Runs, each against a fresh server process: 1 channel × 1,000 subscribers with one publisher
//! at a steady rate, then 10 channels × 100 subscribers with one publisher each. Measures send →
//! receive latency over real WebSockets, deliveries per second, losses, and the server's RSS per
//! idle connection (from /proc, before publishing starts). Writes a JSON report and prints a
//! table. `cargo xtask bench realtime` runs it.

mod error;
mod load;
mod publishers;
mod report;
mod server_process;
mod subscribers;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::watch;

use error::{BenchError, Context, Result};
use load::{Plan, Progress, Target};
use report::{CpuShare, Report, ScenarioResult};
use server_process::ServerProcess;

#[derive(Debug, Parser)]
#[command(
    name = "pairux-realtime-bench",
    about = "Load benchmark of the Realtime endpoint"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/realtime.json")]
    out: PathBuf,
    /// Subscribers in the one-channel scenario (the ten-channel one splits the same number).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Broadcasts per second per publisher.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
    /// Measured seconds per scenario (after a warm-up second).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// User payload bytes per broadcast (at least 16).
    #[arg(long, default_value_t = 128)]
    payload_bytes: usize,
    /// Threads reading the subscriber sockets (each a single-threaded runtime).
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Exit non-zero when a target is missed.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// (internal) Run pairux-server in this process; the benchmark starts itself this way.
    #[command(hide = true)]
    Serve(Box<pairux_server::Args>),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Serve(args)) => server_process::serve(*args),
        None => run(&cli),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pairux-realtime-bench: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    if cli.rate <= 0.0 || cli.subscribers == 0 || !cli.subscribers.is_multiple_of(10) {
        return Err(BenchError::msg(
            "--rate must be > 0 and --subscribers a multiple of 10",
        ));
    }
    check_fd_limit(cli.subscribers)?;
    let _ = load::epoch();
    let base = Plan {
        channels: 1,
        subscribers_per_channel: cli.subscribers,
        rate_per_channel: cli.rate,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(cli.duration_secs),
        payload_bytes: cli.payload_bytes.max(16),
    };
    let ten = Plan {
        channels: 10,
        subscribers_per_channel: cli.subscribers / 10,
        ..base.clone()
    };
    let scenarios = vec![
        scenario(
            &format!("1 channel x {}", cli.subscribers),
            &base,
            cli.client_threads,
        )?,
        scenario(
            &format!("10 channels x {}", cli.subscribers / 10),
            &ten,
            cli.client_threads,
        )?,
    ];
    let report = Report::new(&base, scenarios);
    report.print();
    if let Some(dir) = cli.out.parent() {
        std::fs::create_dir_all(dir).context("creating the report directory")?;
    }
    let json = serde_json::to_string_pretty(&report).context("serialising the report")?;
    std::fs::write(&cli.out, json + "\n").context("writing the report")?;
    println!("wrote {}", cli.out.display());
    let missing = report.missing();
    if !missing.is_empty() {
        return Err(BenchError::msg(format!(
            "not measured (null in the report): {}",
            missing.join(", ")
        )));
    }
    if cli.check && !report.meets_targets {
        return Err(BenchError::msg("targets missed"));
    }
    Ok(())
}

/// Runs one plan against a fresh server process.
fn scenario(name: &str, plan: &Plan, client_threads: usize) -> Result<ScenarioResult> {
    println!(
        "== {name}: starting the server and {} subscribers",
        plan.subscribers()
    );
    let secret = pairux_server::jwt::random_secret();
    let server = ServerProcess::start(&secret)?;
    let token = pairux_server::jwt::mint(
        &secret,
        "anon",
        pairux_server::jwt::now_secs(),
        pairux_server::jwt::now_secs() + 3600,
    )
    .context("minting a token")?;
    let target = Target {
        addr: server.addr,
        token,
    };
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = server.rss_kb()?;

    let subs = Arc::new(Progress::default());
    let pubs = Arc::new(Progress::default());
    let (stop, stop_rx) = watch::channel(false);
    let (go, go_rx) = watch::channel(false);
    let subscribers = subscribers::spawn_subscribers(
        target.clone(),
        plan.clone(),
        client_threads,
        subs.clone(),
        stop_rx,
    );
    let publishers = publishers::spawn_publishers(target, plan.clone(), pubs.clone(), go_rx);
    let connections = plan.subscribers() + plan.channels;
    wait_until(Duration::from_secs(120), "every socket to join", || {
        let failed = subs.failed.load(Ordering::Relaxed);
        if failed > 0 {
            return Err(BenchError::msg(format!(
                "{failed} subscribers failed to join"
            )));
        }
        let joined = subs.joined.load(Ordering::Relaxed) + pubs.joined.load(Ordering::Relaxed);
        Ok(joined == connections)
    })?;
    // Idle: every socket joined, nothing published yet.
    std::thread::sleep(Duration::from_secs(1));
    let rss_idle = server.rss_kb()?;
    // An RSS that did not grow measured nothing (the allocator had the room already): null.
    let rss_per_conn_kb =
        (rss_idle > rss_before).then(|| (rss_idle - rss_before) as f64 / connections as f64);

    println!(
        "   publishing for {:?} (+{:?} warm-up)",
        plan.duration, plan.warmup
    );
    let (server_cpu0, client_cpu0) = (server.cpu()?, server_process::cpu_of("/proc/self/stat")?);
    let started = Instant::now();
    let _ = go.send(true);
    let sent = publishers
        .join()
        .map_err(|_| BenchError::msg("publisher thread panicked"))??;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = CpuShare {
        server: (server.cpu()? - server_cpu0).as_secs_f64() / elapsed,
        client: (server_process::cpu_of("/proc/self/stat")? - client_cpu0).as_secs_f64() / elapsed,
    };
    let published: u64 = sent.per_channel.iter().sum();
    let expected = published * plan.subscribers_per_channel as u64;
    // Let deliveries in flight arrive: until the count stops moving, at most a few seconds.
    let drained_by = Instant::now() + Duration::from_secs(5);
    let mut last = subs.received.load(Ordering::Relaxed);
    while Instant::now() < drained_by && last < expected {
        std::thread::sleep(Duration::from_millis(300));
        let now = subs.received.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let _ = stop.send(true);
    let mut received = subscribers::Received::default();
    for thread in subscribers {
        let part = thread
            .join()
            .map_err(|_| BenchError::msg("subscriber thread panicked"))??;
        received.merge(part);
    }
    drop(server);
    Ok(ScenarioResult::new(
        name,
        plan,
        &sent,
        &received,
        expected,
        rss_per_conn_kb,
        cpu,
    ))
}

fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !done()? {
        if Instant::now() > deadline {
            return Err(BenchError::msg(format!("timed out waiting for {what}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Client and server each hold one descriptor per socket; say so plainly instead of failing
/// halfway through connecting.
fn check_fd_limit(subscribers: usize) -> Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    match soft {
        Some(soft) if soft < subscribers + 64 => Err(BenchError::msg(format!(
            "open-file limit {soft} is too low for {subscribers} sockets (ulimit -n)"
        ))),
        _ => Ok(()),
    }
}
