//! Scratch directories for a test process, all under `<tmp>/pairux-tests-<pid>/`, so that what
//! one process leaves behind is one directory. A test that ends normally leaves it too (tests
//! share the process and nothing runs after the last one), as does one that panics or is
//! killed; so the first directory a test process makes sweeps away those of processes that are
//! gone. Before, every run left a dist stand-in and a run directory per server in /tmp.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

const PREFIX: &str = "pairux-tests-";

/// A fresh, empty directory named after `name` (unique within the process).
pub fn dir(name: &str) -> PathBuf {
    static SWEEP: Once = Once::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    SWEEP.call_once(sweep);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir()
        .join(format!("{PREFIX}{}", std::process::id()))
        .join(format!("{name}-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes the scratch directories of test processes that no longer run.
fn sweep() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
