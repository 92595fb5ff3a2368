//! One Janus node as a child process: its configuration rendered from the templates in
//! `deploy/janus/` into `<run-dir>/janus-<i>/`, its pid in `<run-dir>/janus-<i>.pid`, its log in
//! `<run-dir>/janus-<i>.log`, and the admin `ping` that says it serves.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::supervise::{Probe, ProcessSpec};

use super::admin::AdminClient;

const JANUS_JCFG: &str = include_str!("../../../../deploy/janus/janus.jcfg");
const WEBSOCKETS_JCFG: &str =
    include_str!("../../../../deploy/janus/janus.transport.websockets.jcfg");
const VIDEOROOM_JCFG: &str = include_str!("../../../../deploy/janus/janus.plugin.videoroom.jcfg");

/// Ports of every node: node `i` uses `base + i` (and RTP `rtp_base + 1000 i` to `+ 999`).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub ws_base: u16,
    pub admin_base: u16,
    pub rtp_base: u16,
}

/// Everything one node is started with. Secrets are random per start of the server.
pub struct NodePlan {
    pub index: usize,
    pub media_ip: IpAddr,
    pub ws_port: u16,
    pub admin_port: u16,
    pub rtp: (u16, u16),
    pub admin_secret: String,
    pub admin_key: String,
    pub config_dir: PathBuf,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

impl NodePlan {
    pub fn new(index: usize, media_ip: IpAddr, ports: Ports, run_dir: &Path) -> Option<Self> {
        let i = u16::try_from(index).ok()?;
        let rtp_min = ports.rtp_base.checked_add(i.checked_mul(1000)?)?;
        Some(NodePlan {
            index,
            media_ip,
            ws_port: ports.ws_base.checked_add(i)?,
            admin_port: ports.admin_base.checked_add(i)?,
            rtp: (rtp_min, rtp_min.checked_add(999)?),
            admin_secret: crate::random::token(24),
            admin_key: crate::random::token(24),
            config_dir: run_dir.join(format!("janus-{index}")),
            pid_file: run_dir.join(format!("janus-{index}.pid")),
            log_file: run_dir.join(format!("janus-{index}.log")),
        })
    }

    /// What clients connect to.
    pub fn janus_url(&self) -> String {
        match self.media_ip {
            IpAddr::V4(ip) => format!("ws://{ip}:{}", self.ws_port),
            IpAddr::V6(ip) => format!("ws://[{ip}]:{}", self.ws_port),
        }
    }

    pub fn admin_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.admin_port)
    }

    pub fn admin_client(&self) -> AdminClient {
        AdminClient::new(self.admin_url(), self.admin_secret.clone())
    }

    /// The three files, rendered.
    pub fn render(&self, lib_dir: &Path) -> [(&'static str, String); 3] {
        let vars: [(&str, String); 9] = [
            ("LIB_DIR", lib_dir.display().to_string()),
            ("NODE", self.index.to_string()),
            ("ADMIN_SECRET", self.admin_secret.clone()),
            ("ADMIN_KEY", self.admin_key.clone()),
            ("RTP_MIN", self.rtp.0.to_string()),
            ("RTP_MAX", self.rtp.1.to_string()),
            ("MEDIA_IP", self.media_ip.to_string()),
            ("WS_PORT", self.ws_port.to_string()),
            ("ADMIN_PORT", self.admin_port.to_string()),
        ];
        [
            ("janus.jcfg", crate::template::render(JANUS_JCFG, &vars)),
            (
                "janus.transport.websockets.jcfg",
                crate::template::render(WEBSOCKETS_JCFG, &vars),
            ),
            (
                "janus.plugin.videoroom.jcfg",
                crate::template::render(VIDEOROOM_JCFG, &vars),
            ),
        ]
    }

    /// Writes the configuration (owner-only: it holds the admin secret and key) and returns
    /// what the supervisor runs.
    pub fn prepare(&self, janus: &Path, lib_dir: &Path) -> std::io::Result<ProcessSpec> {
        std::fs::create_dir_all(&self.config_dir)?;
        for (name, text) in self.render(lib_dir) {
            crate::template::write_private(&self.config_dir.join(name), &text)?;
        }
        let admin = self.admin_client();
        let probe: Probe = Arc::new(move || {
            let admin = admin.clone();
            Box::pin(async move { admin.ping().await })
        });
        let jcfg = self.config_dir.join("janus.jcfg");
        Ok(ProcessSpec {
            name: format!("janus-{}", self.index),
            program: janus.to_owned(),
            args: vec![
                "-F".into(),
                self.config_dir.display().to_string(),
                "-C".into(),
                jcfg.display().to_string(),
                "--disable-colors".into(),
            ],
            log_file: self.log_file.clone(),
            pid_file: Some(self.pid_file.clone()),
            describe: format!(
                "Janus SFU node {}: clients {}, admin API {} (this machine only), RTP/ICE ports \
                 {}-{} on {}, log {}",
                self.index,
                self.janus_url(),
                self.admin_url(),
                self.rtp.0,
                self.rtp.1,
                self.media_ip,
                self.log_file.display()
            ),
            probe,
            ready_timeout: Duration::from_secs(20),
        })
    }
}

/// Where Debian (or a local build) keeps Janus's plugins and transports.
pub fn find_lib_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PAIRUX_JANUS_LIB_DIR") {
        return Some(PathBuf::from(dir));
    }
    let arch = std::env::consts::ARCH;
    let candidates = [
        format!("/usr/lib/{arch}-linux-gnu/janus"),
        "/usr/lib/janus".to_owned(),
        "/usr/local/lib/janus".to_owned(),
        "/opt/janus/lib/janus".to_owned(),
    ];
    candidates
        .into_iter()
        .map(PathBuf::from)
        .find(|d| d.join("plugins/libjanus_videoroom.so").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_without_leftover_placeholders() {
        let plan = NodePlan::new(
            2,
            "198.51.100.1".parse().unwrap(),
            Ports {
                ws_base: 8188,
                admin_base: 7188,
                rtp_base: 20000,
            },
            Path::new("/tmp/run"),
        )
        .unwrap();
        assert_eq!(plan.ws_port, 8190);
        assert_eq!(plan.rtp, (22000, 22999));
        assert_eq!(plan.janus_url(), "ws://198.51.100.1:8190");
        for (name, text) in plan.render(Path::new("/usr/lib/janus")) {
            assert!(!text.contains('@'), "{name} keeps a placeholder");
        }
        let [(_, core), (_, ws), (_, vr)] = plan.render(Path::new("/usr/lib/janus"));
        assert!(core.contains("token_auth = true"));
        assert!(core.contains("rtp_port_range = \"22000-22999\""));
        assert!(!core.contains("token_auth_secret ="));
        assert!(ws.contains("admin_ws_ip = \"127.0.0.1\""));
        assert!(ws.contains("ws_port = 8190"));
        assert!(vr.contains(&format!("admin_key = \"{}\"", plan.admin_key)));
    }
}
