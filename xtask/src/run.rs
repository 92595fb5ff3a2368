//! `cargo xtask run`: build, then serve the app and the local stack in the foreground: the
//! server, coturn and `--sfu-nodes` Janus nodes (the server starts and supervises those two and
//! stops them when Ctrl-C stops it; their configs, pids and logs are in target/pairux/run).
//!
//! The JWT secret is kept under target/ so the anon key held by open pages stays valid across
//! restarts of the server.

use anyhow::{Context, Result};

use crate::{build, util};

/// Flags of `cargo xtask run`.
pub struct Options {
    pub port: u16,
    pub agent: bool,
    pub sfu_nodes: usize,
    pub media_ip: Option<std::net::IpAddr>,
    pub relay_only: bool,
    pub sfu_threshold: u32,
    pub database_url: Option<String>,
}

pub fn run(options: Options) -> Result<()> {
    let Options {
        port,
        agent,
        sfu_nodes,
        media_ip,
        relay_only,
        sfu_threshold,
        database_url,
    } = options;
    build::all()?;
    let secret = persistent_secret()?;
    let url = format!("http://127.0.0.1:{port}");
    // The agent on this desktop, for the pages of this stack (both spellings of its address);
    // stopped when `run` returns (Ctrl-C reaches it directly, too).
    let _agent = if agent {
        Some(util::BackgroundProcess::spawn(
            std::process::Command::new(build::agent_bin())
                .args(["--origin", &url])
                .args(["--origin", &format!("http://localhost:{port}")]),
        )?)
    } else {
        None
    };
    println!("\nPairUX is running at {url}  (Ctrl-C to stop)");
    println!(
        "  coturn (STUN/TURN) on {}:3478{}; {}",
        media_ip.map_or("the media address".to_owned(), |ip| ip.to_string()),
        if relay_only {
            ", every connection relayed"
        } else {
            ""
        },
        match sfu_nodes {
            0 => "no SFU (peer to peer only)".to_owned(),
            1 => "1 Janus SFU node on port 8188".to_owned(),
            n => format!("{n} Janus SFU nodes on ports 8188-{}", 8188 + n - 1),
        }
    );
    if sfu_nodes > 0 {
        println!(
            "  Session Focus: Auto sessions move to an SFU at {sfu_threshold} participants; state {}; \
             drain a node with: curl -X POST 'http://127.0.0.1:{port}/focus/drain?node=janus-0&on=true'",
            if database_url.is_some() {
                "in PostgreSQL"
            } else {
                "in memory"
            }
        );
    }
    println!("  the server prints one line per process below; logs in target/pairux/run/\n");
    if agent {
        println!(
            "The PairUX agent runs on this desktop: start a session at {url}, enter the pairing code \
             it printed above under \"Agent\", and granted controllers drive this computer.\n"
        );
    }
    let mut server = std::process::Command::new(build::server_bin());
    server
        .current_dir(util::root())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--static", &build::dist().to_string_lossy()])
        .args(["--sfu-nodes", &sfu_nodes.to_string(), "--turn"])
        // A machine off every network (or a loopback-only test namespace) still serves peer to
        // peer; the server says what it left out.
        .arg("--media-optional")
        .args(["--sfu-threshold", &sfu_threshold.to_string()])
        // Stopping this process stops the server, Janus and coturn, whatever signal stopped it
        // (Ctrl-C reaches them all anyway; a SIGTERM to this one alone would not).
        .arg("--exit-with-parent")
        .env("PAIRUX_JWT_SECRET", secret);
    if let Some(ip) = media_ip {
        server.args(["--media-ip", &ip.to_string()]);
    }
    if relay_only {
        server.arg("--relay-only");
    }
    if let Some(url) = database_url {
        // Through the environment: a URL may hold a password.
        server.env("PAIRUX_DATABASE_URL", url);
    }
    util::run(&mut server)
}

/// Reads target/pairux/jwt-secret, creating it with fresh random bytes the first time.
fn persistent_secret() -> Result<String> {
    let path = util::root().join("target/pairux/jwt-secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        if !secret.trim().is_empty() {
            return Ok(secret.trim().to_owned());
        }
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("reading /dev/urandom")?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}
