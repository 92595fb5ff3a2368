//! coturn beside the server: its configuration (from `deploy/coturn/turnserver.conf`) and
//! process, a STUN probe that says it serves, and the TURN REST credentials handed to link
//! holders (`use-auth-secret`): username `"<expiry unix ts>:<random id>"`, credential
//! base64(HMAC-SHA1(static-auth-secret, username)), minted by [`TurnIssuer`] — the main server's
//! own (from its [`TurnPlan`]) or, in a standalone focus, the one the main server wrote to the
//! `turn` section of `nodes.json`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use pairux_core::config::{IceServer, IceUrls};
use serde::{Deserialize, Serialize};
use sha1::Sha1;

use crate::supervise::{Probe, ProcessSpec};

const TURNSERVER_CONF: &str = include_str!("../../../deploy/coturn/turnserver.conf");

/// How long TURN credentials work.
pub const CREDENTIAL_TTL_SECS: u64 = 20 * 60;

/// One coturn, started with a secret random per start.
pub struct TurnPlan {
    pub media_ip: IpAddr,
    pub port: u16,
    pub relay_ports: (u16, u16),
    secret: String,
    pub conf_file: PathBuf,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

impl TurnPlan {
    pub fn new(media_ip: IpAddr, port: u16, run_dir: &Path) -> TurnPlan {
        TurnPlan {
            media_ip,
            port,
            relay_ports: (49160, 49999),
            secret: crate::random::token(24),
            conf_file: run_dir.join("turnserver.conf"),
            pid_file: run_dir.join("turnserver.pid"),
            log_file: run_dir.join("turnserver.log"),
        }
    }

    fn host(&self) -> String {
        match self.media_ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        }
    }

    /// `stun:<ip>:<port>`: what config.json lists (no credentials needed).
    pub fn stun_url(&self) -> String {
        format!("stun:{}:{}", self.host(), self.port)
    }

    pub fn render(&self) -> String {
        crate::template::render(
            TURNSERVER_CONF,
            &[
                ("MEDIA_IP", self.media_ip.to_string()),
                ("PORT", self.port.to_string()),
                ("MIN_PORT", self.relay_ports.0.to_string()),
                ("MAX_PORT", self.relay_ports.1.to_string()),
                ("SECRET", self.secret.clone()),
                ("PIDFILE", self.pid_file.display().to_string()),
                ("PEER_RULES", peer_rules(self.media_ip)),
            ],
        )
    }

    pub fn prepare(&self, turnserver: &Path) -> std::io::Result<ProcessSpec> {
        crate::template::write_private(&self.conf_file, &self.render())?;
        let addr = SocketAddr::new(self.media_ip, self.port);
        let probe: Probe = Arc::new(move || Box::pin(stun_answers(addr)));
        Ok(ProcessSpec {
            name: "turnserver".into(),
            program: turnserver.to_owned(),
            args: vec!["-c".into(), self.conf_file.display().to_string()],
            log_file: self.log_file.clone(),
            pid_file: None, // coturn writes its own (`pidfile`)
            describe: format!(
                "coturn TURN/STUN on {addr} (UDP and TCP), relay ports {}-{}, log {}",
                self.relay_ports.0,
                self.relay_ports.1,
                self.log_file.display()
            ),
            probe,
            ready_timeout: Duration::from_secs(10),
        })
    }

    /// What mints this coturn's credentials: its STUN and TURN (UDP and TCP) URLs and secret.
    pub fn issuer(&self) -> TurnIssuer {
        let host = self.host();
        TurnIssuer {
            stun_url: self.stun_url(),
            turn_urls: vec![
                format!("turn:{host}:{}?transport=udp", self.port),
                format!("turn:{host}:{}?transport=tcp", self.port),
            ],
            secret: self.secret.clone(),
        }
    }

    /// For tests: the secret coturn checks credentials with.
    pub fn secret_for_tests(&self) -> &str {
        &self.secret
    }
}

/// coturn's `denied-peer-ip` / `allowed-peer-ip` lines for a server on `media_ip`: never this
/// host's unspecified, link-local, multicast or reserved addresses, nor IPv4 through IPv6's
/// mapped form; on a public media address, no private network either (a server on a LAN relays
/// for people who can reach that LAN anyway). `media_ip` itself is allowed (allowed lines win).
fn peer_rules(media_ip: IpAddr) -> String {
    let mut denied = vec![
        "0.0.0.0-0.255.255.255",
        "169.254.0.0-169.254.255.255",
        "224.0.0.0-255.255.255.255",
        "::-::ffff",
        "::ffff:0.0.0.0-::ffff:255.255.255.255",
        "64:ff9b::-64:ff9b::ffff:ffff",
        "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ];
    let private = match media_ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            ip.is_private() || (a == 100 && (64..128).contains(&b)) || ip.is_loopback()
        }
        IpAddr::V6(ip) => (ip.segments()[0] & 0xfe00) == 0xfc00 || ip.is_loopback(),
    };
    if !private {
        denied.extend([
            "10.0.0.0-10.255.255.255",
            "100.64.0.0-100.127.255.255",
            "172.16.0.0-172.31.255.255",
            "192.168.0.0-192.168.255.255",
            "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]);
    }
    let mut lines: Vec<String> = denied
        .into_iter()
        .map(|r| format!("denied-peer-ip={r}"))
        .collect();
    lines.push(format!("allowed-peer-ip={media_ip}"));
    lines.join("\n")
}

/// What hands out TURN: the URLs (`stun:` without credentials, `turn:` with) and coturn's
/// `static-auth-secret`. The main server makes it from its [`TurnPlan`]; it writes the same,
/// as the `turn` section of `<run-dir>/nodes.json` (0600), for standalone focus processes,
/// so their grants carry credentials this coturn accepts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnIssuer {
    pub stun_url: String,
    pub turn_urls: Vec<String>,
    secret: String,
}

impl std::fmt::Debug for TurnIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnIssuer")
            .field("stun_url", &self.stun_url)
            .field("turn_urls", &self.turn_urls)
            .finish_non_exhaustive()
    }
}

impl TurnIssuer {
    /// Whether it can mint anything (a secret and at least one TURN URL).
    pub fn is_usable(&self) -> bool {
        !self.secret.is_empty() && !self.turn_urls.is_empty()
    }

    /// The credentials handed out at `now_secs` (good for [`CREDENTIAL_TTL_SECS`]).
    pub fn credentials(&self, now_secs: u64) -> TurnCredentials {
        let expires_at = now_secs + CREDENTIAL_TTL_SECS;
        let username = format!("{expires_at}:{}", crate::random::token(12));
        let credential = credential(&self.secret, &username);
        TurnCredentials {
            expires_at,
            username,
            credential,
        }
    }

    /// STUN and TURN with these credentials, as RTCIceServer dictionaries.
    pub fn ice_servers(&self, creds: &TurnCredentials) -> Vec<IceServer> {
        vec![
            IceServer {
                urls: IceUrls::One(self.stun_url.clone()),
                username: None,
                credential: None,
            },
            IceServer {
                urls: IceUrls::Many(self.turn_urls.clone()),
                username: Some(creds.username.clone()),
                credential: Some(creds.credential.clone()),
            },
        ]
    }
}

/// Time-limited TURN credentials.
#[derive(Clone)]
pub struct TurnCredentials {
    pub expires_at: u64,
    pub username: String,
    pub credential: String,
}

/// base64(HMAC-SHA1(secret, username)), coturn's `use-auth-secret` password.
pub fn credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Sends a STUN Binding request to `addr` and waits briefly for a Binding success response.
async fn stun_answers(addr: SocketAddr) -> bool {
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let Ok(socket) = tokio::net::UdpSocket::bind(bind).await else {
        return false;
    };
    let mut request = [0u8; 20];
    request[0..2].copy_from_slice(&0x0001u16.to_be_bytes()); // Binding request
    request[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes()); // magic cookie
    let id = crate::random::token(9);
    request[8..20].copy_from_slice(&id.as_bytes()[..12]);
    if socket.send_to(&request, addr).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    let answer = tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf)).await;
    matches!(answer, Ok(Ok((n, from))) if from == addr && n >= 20
        && buf[0..2] == 0x0101u16.to_be_bytes() && buf[8..20] == request[8..20])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_is_hmac_sha1_base64() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        assert_eq!(
            credential("Jefe", "what do ya want for nothing?"),
            STANDARD.encode([
                0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
                0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
            ])
        );
    }

    #[test]
    fn template_renders_completely() {
        let plan = TurnPlan::new("198.51.100.1".parse().unwrap(), 3478, Path::new("/tmp/r"));
        let conf = plan.render();
        assert!(!conf.contains('@'));
        assert!(conf.contains("listening-ip=198.51.100.1\n"));
        assert!(conf.contains("relay-ip=198.51.100.1\n"));
        assert!(conf.contains("use-auth-secret\n"));
        assert!(conf.contains("pidfile=/tmp/r/turnserver.pid\n"));
        // A public media address: no relay into private networks, link-local or TCP; itself
        // reachable.
        for line in [
            "no-tcp-relay\n",
            "denied-peer-ip=169.254.0.0-169.254.255.255\n",
            "denied-peer-ip=10.0.0.0-10.255.255.255\n",
            "denied-peer-ip=192.168.0.0-192.168.255.255\n",
            "denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255\n",
            "allowed-peer-ip=198.51.100.1\n",
            "user-quota=16\n",
        ] {
            assert!(conf.contains(line), "{line:?} missing:\n{conf}");
        }
        // On a LAN address the LAN stays reachable; link-local never is.
        let lan =
            TurnPlan::new("192.168.1.10".parse().unwrap(), 3478, Path::new("/tmp/r")).render();
        assert!(!lan.contains("denied-peer-ip=192.168.0.0"));
        assert!(lan.contains("denied-peer-ip=169.254.0.0-169.254.255.255\n"));
        assert!(lan.contains("allowed-peer-ip=192.168.1.10\n"));
        let issuer = plan.issuer();
        let creds = issuer.credentials(1000);
        assert_eq!(creds.expires_at, 1000 + CREDENTIAL_TTL_SECS);
        assert!(creds.username.starts_with("2200:"));
        assert_eq!(
            creds.credential,
            credential(plan.secret_for_tests(), &creds.username)
        );
        let servers = issuer.ice_servers(&creds);
        assert_eq!(
            servers[0].urls,
            IceUrls::One("stun:198.51.100.1:3478".into())
        );
        assert_eq!(
            servers[1].urls,
            IceUrls::Many(vec![
                "turn:198.51.100.1:3478?transport=udp".into(),
                "turn:198.51.100.1:3478?transport=tcp".into(),
            ])
        );
        // What nodes.json carries gives back the same issuer, and its Debug hides the secret.
        let text = serde_json::to_string(&issuer).unwrap();
        assert!(text.contains("\"turnUrls\""));
        let back: TurnIssuer = serde_json::from_str(&text).unwrap();
        assert!(back == issuer && back.is_usable());
        assert!(!format!("{back:?}").contains(plan.secret_for_tests()));
    }
}
