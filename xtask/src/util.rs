//! Small process and path helpers shared by the subcommands.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The workspace root (parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A command that runs in the workspace root.
pub fn cmd(program: &str) -> Command {
    let mut c = Command::new(program);
    c.current_dir(root());
    c
}

/// `cargo` as invoked by this xtask (respects `$CARGO`).
pub fn cargo() -> Command {
    cmd(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// A process that lives as long as this value: killed and reaped when dropped (a server for
/// a suite, the agent beside `run`).
pub struct BackgroundProcess(std::process::Child);

impl BackgroundProcess {
    /// Starts `c`; whoever uses it waits for it to be ready.
    pub fn spawn(c: &mut Command) -> Result<Self> {
        Ok(BackgroundProcess(
            c.spawn()
                .with_context(|| format!("starting {}", describe(c)))?,
        ))
    }
}

impl Drop for BackgroundProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command with inherited output; fails unless it exits 0.
pub fn run(c: &mut Command) -> Result<()> {
    eprintln!("$ {}", describe(c));
    let status = c
        .status()
        .with_context(|| format!("cannot start {}", describe(c)))?;
    if !status.success() {
        bail!("{} failed ({status})", describe(c));
    }
    Ok(())
}

/// Runs a command, echoing its output live and also returning it (stdout and stderr merged).
/// Returns the text and whether it exited 0.
pub fn run_tee(c: &mut Command) -> Result<(String, bool)> {
    use std::io::{BufRead, BufReader, Write};
    eprintln!("$ {}", describe(c));
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", describe(c)))?;
    let stderr = child.stderr.take().expect("stderr was piped");
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut out = String::new();
    let stdout = child.stdout.take().expect("stdout was piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        out.push_str(&line);
        out.push('\n');
    }
    let _ = std::io::stdout().flush();
    let status = child.wait()?;
    out.push_str(&err_thread.join().unwrap_or_default());
    Ok((out, status.success()))
}

/// Output of a command if it runs and exits 0.
pub fn output(c: &mut Command) -> Option<String> {
    let out = c.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The `wasm-bindgen` version locked in Cargo.lock (what wasm-bindgen-cli must equal).
pub fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    locked_version(&lock, "wasm-bindgen").context("Cargo.lock has no wasm-bindgen")
}

/// Finds `version` of package `name` in a Cargo.lock text.
pub fn locked_version(lock: &str, name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"\n");
    let at = lock.find(&needle)? + needle.len();
    let line = lock[at..].lines().next()?;
    let version = line.strip_prefix("version = \"")?.strip_suffix('"')?;
    Some(version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_package_versions() {
        let lock = "[[package]]\nname = \"wasm-bindgen-futures\"\nversion = \"0.4.1\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(locked_version(lock, "nope"), None);
    }

    #[test]
    fn trunk_uses_the_locked_wasm_bindgen() {
        let trunk = std::fs::read_to_string(root().join("Trunk.toml")).unwrap();
        let want = format!("wasm_bindgen = \"{}\"", locked_wasm_bindgen().unwrap());
        assert!(
            trunk.contains(&want),
            "Trunk.toml must pin {want} (Cargo.lock's wasm-bindgen)"
        );
    }
}
