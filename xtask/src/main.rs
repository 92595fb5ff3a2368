//! `cargo xtask …`: every developer task of PairUX, the same ones CI runs.
//!
//! Each subcommand is idempotent and prints what it does. `setup` runs first for `build`,
//! `run`, `test`, `bench` and `ci` unless `PAIRUX_SKIP_SETUP=1`.

mod bench;
mod build;
mod compress;
mod netns;
mod run;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "PairUX developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install whatever is missing: wasm target, Trunk, wasm-bindgen-cli, Debian and npm packages.
    Setup,
    /// Build the release app (dist/) and the native server.
    Build,
    /// Build, then serve the app and the local stack at http://127.0.0.1:<port>.
    Run {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Also start the PairUX agent on this desktop (granted control drives this computer).
        #[arg(long)]
        agent: bool,
        /// Janus SFU nodes the server starts (0: peer-to-peer only). coturn always runs.
        #[arg(long, default_value_t = 1)]
        sfu_nodes: usize,
        /// Address Janus and coturn serve media on (default: the first non-loopback IPv4).
        #[arg(long)]
        media_ip: Option<std::net::IpAddr>,
        /// Every connection goes through TURN (config.json `relayOnly`).
        #[arg(long)]
        relay_only: bool,
        /// Participants at which an Auto session moves from P2P to an SFU.
        #[arg(long, default_value_t = 10)]
        sfu_threshold: u32,
        /// PostgreSQL URL for the Session Focus's state (default: in memory).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Every lint and test; ends with one line
    /// `N tests passed, M failed; K lint/build steps passed, L failed`.
    Test {
        /// Run only suites whose name contains this text (e.g. `e2e`, `clippy`); text that
        /// names no suite is an error.
        #[arg(long)]
        only: Option<String>,
    },
    /// Benchmarks: `size`, `realtime`, `media`, `input`, `e2ee`, `metronome`, `sfu`, `focus`,
    /// `legibility`
    /// (each writes target/bench/<name>.json and prints a table).
    Bench { name: String },
    /// Write the Brotli and gzip forms of the built app's files beside them (Trunk's post-build
    /// hook runs it on its staging directory; default: TRUNK_STAGING_DIR).
    Compress { dir: Option<std::path::PathBuf> },
    /// What CI runs: the same as `test`.
    Ci,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => setup::run(),
        Command::Build => setup::unless_skipped().and_then(|()| build::all()),
        Command::Run {
            port,
            agent,
            sfu_nodes,
            media_ip,
            relay_only,
            sfu_threshold,
            database_url,
        } => setup::unless_skipped().and_then(|()| {
            run::run(run::Options {
                port,
                agent,
                sfu_nodes,
                media_ip,
                relay_only,
                sfu_threshold,
                database_url,
            })
        }),
        Command::Test { only } => setup::unless_skipped().and_then(|()| test::run(only.as_deref())),
        Command::Compress { dir } => compress::run(dir),
        Command::Ci => setup::unless_skipped().and_then(|()| test::run(None)),
        Command::Bench { name } => setup::unless_skipped().and_then(|()| bench::run(&name)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
