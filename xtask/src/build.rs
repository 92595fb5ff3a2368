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
/// offline tool lookup finds the wasm-opt that Trunk.toml names, and the wasm builds' standard
/// library compiled with the apps (`WASM_STD`).
pub fn trunk_release() -> Command {
    let bin = util::root().join("node_modules/.bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    let mut c = cmd("trunk");
    c.args(["build", "--release"])
        .env(
            "PATH",
            std::env::join_paths(dirs).expect("PATH entries have no separator"),
        )
        .envs(WASM_STD);
    c
}

/// How Trunk's cargo builds the wasm apps and the worker: the standard library is compiled
/// with them (`build-std`, from rustup's `rust-src`, installed by `setup`, which also fetches
/// std's own crates: Trunk runs cargo offline), optimised for size with the apps' own profile
/// and LTO, and a panic aborts at once (`immediate-abort`: no panic message formatting, no
/// location strings; a panic is still an error in the console, `unreachable`). The guest app:
/// 327.6 → 299.3 KB gzipped (ARCHITECTURE.md, App size).
///
/// These are unstable cargo and rustc features. This machine kind provides one toolchain,
/// stable 1.95 (`setup` warns on another), so they are enabled on it with `RUSTC_BOOTSTRAP=1`,
/// for Trunk's cargo only: Trunk.toml's hook takes every key here out of its environment, and
/// every other build (native, clippy, tests) is plain stable. Cargo adds the target's flags
/// here to `.cargo/config.toml`'s.
pub const WASM_STD: [(&str, &str); 4] = [
    ("RUSTC_BOOTSTRAP", "1"),
    ("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort"),
    ("CARGO_UNSTABLE_BUILD_STD_FEATURES", "optimize_for_size"),
    (
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
        "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none",
    ),
];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunks_hook_runs_without_the_wasm_builds_settings() {
        let trunk = std::fs::read_to_string(util::root().join("Trunk.toml")).unwrap();
        for (key, _) in WASM_STD {
            assert!(
                trunk.contains(&format!("\"-u\", \"{key}\"")),
                "Trunk.toml's hook must unset {key}"
            );
        }
    }
}
