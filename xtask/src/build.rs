//! `cargo xtask build`: the release app in `dist/` (Trunk) and the native binaries (server,
//! agent).

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::util::{self, cargo, cmd, run};

/// Cargo profile for native binaries (see the workspace Cargo.toml).
pub const NATIVE_PROFILE: &str = "native";

pub fn all() -> Result<()> {
    app()?;
    run(&mut native())
}

/// `trunk build --release` into dist/.
pub fn app() -> Result<()> {
    run(&mut trunk_release())
}

/// `trunk build --release`, with npm's binaryen (node_modules/.bin) first on PATH so Trunk's
/// offline tool lookup finds the wasm-opt that Trunk.toml names.
pub fn trunk_release() -> Command {
    let bin = util::root().join("node_modules/.bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    let mut c = cmd("trunk");
    c.args(["build", "--release"]).env(
        "PATH",
        std::env::join_paths(dirs).expect("PATH entries have no separator"),
    );
    c
}

/// The server and agent binaries, built with the native profile.
pub fn native() -> Command {
    let mut c = cargo();
    c.args([
        "build",
        "--profile",
        NATIVE_PROFILE,
        "-p",
        "pairux-server",
        "-p",
        "pairux-agent",
        "--bins",
    ]);
    c
}

pub fn agent_bin() -> PathBuf {
    native_bin("pairux-agent")
}

pub fn server_bin() -> PathBuf {
    native_bin("pairux-server")
}

fn native_bin(name: &str) -> PathBuf {
    util::root().join("target").join(NATIVE_PROFILE).join(name)
}

pub fn dist() -> PathBuf {
    util::root().join("dist")
}
