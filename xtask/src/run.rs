//! `cargo xtask run`: build, then serve the app and the local stack in the foreground.
//!
//! The JWT secret is kept under target/ so the anon key held by open pages stays valid across
//! restarts of the server.

use anyhow::{Context, Result};

use crate::{build, util};

pub fn run(port: u16, agent: bool) -> Result<()> {
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
    println!("\nPairUX is running at {url}  (Ctrl-C to stop)\n");
    if agent {
        println!(
            "The PairUX agent runs on this desktop: start a session at {url}, enter the pairing code \
             it printed above under \"Agent\", and granted controllers drive this computer.\n"
        );
    }
    util::run(
        std::process::Command::new(build::server_bin())
            .current_dir(util::root())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--static", &build::dist().to_string_lossy()])
            .env("PAIRUX_JWT_SECRET", secret),
    )
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
