//! `cargo xtask run`: build, then serve the app and the local stack in the foreground.
//!
//! The JWT secret is kept under target/ so the anon key held by open pages stays valid across
//! restarts of the server.

use anyhow::{Context, Result};

use crate::{build, util};

pub fn run(port: u16) -> Result<()> {
    build::all()?;
    let secret = persistent_secret()?;
    let url = format!("http://127.0.0.1:{port}");
    println!("\nPairUX is running at {url}  (Ctrl-C to stop)\n");
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
