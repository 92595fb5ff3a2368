//! A throwaway PostgreSQL for tests: `deploy/postgres/pg.sh` (Debian's postgresql 15, run as
//! the `postgres` user when the tests run as root) on a temporary directory, stopped and
//! removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Pg {
    dir: PathBuf,
    pub url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/postgres/pg.sh")
}

impl Pg {
    /// Starts one; panics with what to install when it cannot.
    pub fn start(name: &str) -> Pg {
        let dir = std::env::temp_dir().join(format!("pairux-pg-{name}-{}", std::process::id()));
        let _ = Command::new(script()).arg("stop").arg(&dir).status();
        let out = Command::new(script())
            .arg("start")
            .arg(&dir)
            .output()
            .expect("deploy/postgres/pg.sh runs");
        assert!(
            out.status.success(),
            "PostgreSQL did not start (these tests need Debian's postgresql 15: `cargo xtask \
             setup`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Pg { dir, url }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).status();
    }
}
