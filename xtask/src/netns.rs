//! The private network namespace every browser test runs in (toolchain.md).
//!
//! Chrome gathers ICE candidates on every interface; inside a namespace that has only `lo` and
//! a veth pair with **both ends inside** (`v0`/`v1`, 198.51.100.1/24 on `v0`, TEST-NET-2, default
//! route via `v0`), test traffic cannot leave the machine. The veth is there because Janus and
//! libnice skip loopback interfaces: Janus and coturn serve media on [`MEDIA_IP`]
//! (reference/janus.md). The namespace is deleted on drop, also when a suite fails.

use std::process::Command;

use anyhow::{bail, Result};

use crate::util::{output, run};

/// The media address inside the namespace (on `v0`): pass it as `--media-ip`.
pub const MEDIA_IP: &str = "198.51.100.1";

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
        run(ns
            .exec("ip")
            .args(["link", "add", "v0", "type", "veth", "peer", "name", "v1"]))?;
        run(ns
            .exec("ip")
            .args(["addr", "add", &format!("{MEDIA_IP}/24"), "dev", "v0"]))?;
        run(ns.exec("ip").args(["link", "set", "v0", "up"]))?;
        run(ns.exec("ip").args(["link", "set", "v1", "up"]))?;
        run(ns.exec("ip").args(["route", "add", "default", "dev", "v0"]))?;
        let links = output(ns.exec("ip").args(["-o", "link"])).unwrap_or_default();
        let mut names: Vec<&str> = links
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap_or_default())
            .collect();
        names.sort_unstable();
        if names != ["lo", "v0", "v1"] {
            bail!("namespace {} has more than lo, v0, v1: {links}", ns.name);
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
