//! `cargo xtask setup`: installs what this machine kind lacks, skipping what is there.
//!
//! Versions that must match are checked, not assumed: Trunk must be 0.21.14 (0.22 needs a newer
//! rustc), and wasm-bindgen-cli must equal the `wasm-bindgen` in Cargo.lock.

use anyhow::{Context, Result};

use crate::util::{self, cargo, cmd, output};

pub const TRUNK_VERSION: &str = "0.21.14";
/// twiggy, for `cargo xtask bench size`'s largest contributors (its binary says `twiggy-opt`).
const TWIGGY_VERSION: &str = "0.8.0";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The rustc release `build::WASM_STD`'s unstable flags were checked with.
const WASM_STD_RUSTC: &str = "1.95";
/// Debian packages the build and the tests need.
/// (wasm-opt comes from npm's `binaryen`: Debian's 108 miscompiles wasm-bindgen's output.)
/// (xvfb, xdotool and x11-utils' xev: the agent's journeys on a real X server.)
/// (janus and coturn: the SFU nodes and TURN server pairux-server starts; installed without
/// starting their system services. postgresql: the Session Focus's shared store, started by
/// the tests on throwaway data directories with deploy/postgres/pg.sh.)
const DEBIAN_PACKAGES: &[&str] = &[
    "chromium",
    "chromium-driver",
    "iproute2",
    "xvfb",
    "xdotool",
    "x11-utils",
    "janus",
    "coturn",
    "postgresql",
];

/// `setup`, unless `PAIRUX_SKIP_SETUP=1` (e.g. inside a network namespace without registries).
pub fn unless_skipped() -> Result<()> {
    if std::env::var("PAIRUX_SKIP_SETUP").is_ok_and(|v| v == "1") {
        eprintln!("xtask: PAIRUX_SKIP_SETUP=1, skipping setup");
        return Ok(());
    }
    run()
}

pub fn run() -> Result<()> {
    wasm_target()?;
    rust_src()?;
    wasm_std_crates()?;
    trunk()?;
    wasm_bindgen_cli()?;
    twiggy()?;
    debian_packages()?;
    npm_packages()?;
    eprintln!("xtask: setup complete");
    Ok(())
}

fn wasm_target() -> Result<()> {
    let installed =
        output(cmd("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    util::run(cmd("rustup").args(["target", "add", WASM_TARGET]))
}

/// The standard library's source, which the wasm builds compile (`build::WASM_STD`), and a
/// warning if rustc is not the release whose unstable flags those builds were checked with.
fn rust_src() -> Result<()> {
    let rustc = output(cmd("rustc").arg("--version")).unwrap_or_default();
    if !rustc.starts_with(&format!("rustc {WASM_STD_RUSTC}.")) {
        eprintln!(
            "xtask: warning: the wasm builds' unstable flags (xtask/src/build.rs, WASM_STD) \
             were checked with rustc {WASM_STD_RUSTC}; this is {}",
            rustc.trim()
        );
    }
    let installed =
        output(cmd("rustup").args(["component", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim().starts_with("rust-src")) {
        return Ok(());
    }
    util::run(cmd("rustup").args(["component", "add", "rust-src"]))
}

/// Every crate Trunk's cargo needs, which it runs offline: the workspace's, for every target
/// (build scripts and proc macros run on the host), and those std itself depends on (rust-src's
/// `library/Cargo.lock`: dlmalloc, libc, …), which the wasm builds compile (`build::WASM_STD`).
/// Checked with an empty `CARGO_HOME`: an offline wasm build after these two fetches works.
/// Quick when they are there.
fn wasm_std_crates() -> Result<()> {
    util::run(cargo().arg("fetch"))?;
    util::run(
        cargo()
            .args(["fetch", "--target", WASM_TARGET])
            .envs(crate::build::WASM_STD),
    )
}

fn trunk() -> Result<()> {
    let have = output(cmd("trunk").arg("--version")).unwrap_or_default();
    if have.trim() == format!("trunk {TRUNK_VERSION}") {
        return Ok(());
    }
    eprintln!("xtask: installing Trunk {TRUNK_VERSION} (takes ~8 min on 2 cores)");
    util::run(cargo().args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]))
}

fn wasm_bindgen_cli() -> Result<()> {
    let want = util::locked_wasm_bindgen()?;
    let have = output(cmd("wasm-bindgen").arg("--version")).unwrap_or_default();
    let runner = output(cmd("wasm-bindgen-test-runner").arg("--version")).unwrap_or_default();
    if have.trim() == format!("wasm-bindgen {want}") && runner.contains(&want) {
        return Ok(());
    }
    eprintln!("xtask: installing wasm-bindgen-cli {want} (takes ~4 min)");
    // Not --locked: its lockfile pins a webpki-roots release the registry does not serve.
    util::run(cargo().args(["install", "wasm-bindgen-cli", "--version", &want, "--force"]))
}

fn twiggy() -> Result<()> {
    let have = output(cmd("twiggy").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(TWIGGY_VERSION) {
        return Ok(());
    }
    eprintln!("xtask: installing twiggy {TWIGGY_VERSION} (takes ~1 min)");
    util::run(cargo().args(["install", "--locked", "twiggy", "--version", TWIGGY_VERSION]))
}

fn debian_packages() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            output(cmd("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_none_or(|s| !s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages {missing:?}");
    util::run(
        cmd("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    util::run(
        cmd("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// `npm ci` when node_modules does not reflect package-lock.json.
fn npm_packages() -> Result<()> {
    let root = util::root();
    let lock =
        std::fs::read(root.join("package-lock.json")).context("reading package-lock.json")?;
    let stamp = root.join("node_modules/.pairux-lock");
    if std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return Ok(());
    }
    util::run(cmd("npm").args(["ci", "--no-audit", "--no-fund"]))?;
    std::fs::write(&stamp, lock).context("writing node_modules stamp")
}
