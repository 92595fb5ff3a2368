//! `cargo xtask build`: the release app in `dist/` (Trunk) and the native server binary.

use std::path::PathBuf;

use anyhow::Result;

use crate::util::{self, cargo, cmd, run};

/// Cargo profile for native binaries (see the workspace Cargo.toml).
pub const NATIVE_PROFILE: &str = "native";

pub fn all() -> Result<()> {
    app()?;
    server()
}

/// `trunk build --release` into dist/.
pub fn app() -> Result<()> {
    run(cmd("trunk").args(["build", "--release"]))
}

/// The server binary, built with the native profile.
pub fn server() -> Result<()> {
    run(cargo().args([
        "build",
        "--profile",
        NATIVE_PROFILE,
        "-p",
        "pairux-server",
        "--bins",
    ]))
}

pub fn server_bin() -> PathBuf {
    util::root()
        .join("target")
        .join(NATIVE_PROFILE)
        .join("pairux-server")
}

pub fn dist() -> PathBuf {
    util::root().join("dist")
}
