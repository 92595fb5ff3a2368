//! The loopback-only network namespace every browser test runs in (toolchain.md).
//!
//! Chrome gathers ICE candidates on every interface; inside a namespace that has only `lo`, test
//! traffic cannot leave the machine. The namespace is deleted on drop, also when a suite fails.

use std::process::Command;

use anyhow::{bail, Result};

use crate::util::{output, run};

pub struct LoopbackNamespace {
    name: String,
}

impl LoopbackNamespace {
    pub fn create() -> Result<Self> {
        remove_stale();
        let name = format!("pairux-test-{}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = LoopbackNamespace { name };
        run(ns.exec("ip").args(["link", "set", "lo", "up"]))?;
        let links = output(ns.exec("ip").args(["-o", "link"])).unwrap_or_default();
        if links.lines().count() != 1 {
            bail!("namespace {} has more than lo: {links}", ns.name);
        }
        Ok(ns)
    }

    /// A command that runs inside the namespace.
    pub fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program])
            .current_dir(crate::util::root());
        c
    }
}

impl Drop for LoopbackNamespace {
    fn drop(&mut self) {
        // Anything the tests left running inside dies with its namespace's last reference.
        if let Some(pids) = output(Command::new("ip").args(["netns", "pids", &self.name])) {
            for pid in pids.split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Deletes namespaces left by earlier runs whose xtask process is gone (e.g. after Ctrl-C).
fn remove_stale() {
    let Some(list) = output(Command::new("ip").args(["netns", "list"])) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name.strip_prefix("pairux-test-") else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}
