//! The media servers pairux-server runs beside itself: `--sfu-nodes N` Janus nodes and, with
//! `--turn` (or `--relay-only`), one coturn. Configuration is rendered into `--run-dir`; every
//! child is supervised (`crate::supervise`) and stopped with the server.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::sfu::process::{find_lib_dir, NodePlan, Ports};
use crate::sfu::{Sfu, SfuNode};
use crate::supervise::{find_binary, Supervised};
use crate::turn::TurnPlan;

/// Flags of the media servers.
#[derive(Debug, Clone, clap::Args)]
pub struct MediaArgs {
    /// Janus SFU nodes to start (0: no SFU mode).
    #[arg(long, default_value_t = 0)]
    pub sfu_nodes: usize,
    /// Start coturn (STUN/TURN) and hand out TURN credentials at /api/access.
    #[arg(long)]
    pub turn: bool,
    /// Address Janus and coturn serve media on (default: this machine's first non-loopback
    /// IPv4 address).
    #[arg(long)]
    pub media_ip: Option<IpAddr>,
    /// Every connection goes through TURN (config.json `relayOnly`); implies --turn.
    #[arg(long)]
    pub relay_only: bool,
    /// With no media address (none given, and no non-loopback IPv4 here: offline, or a
    /// loopback-only network namespace), serve peer to peer without Janus and coturn instead of
    /// refusing to start (`cargo xtask run` passes it; not with --relay-only).
    #[arg(long)]
    pub media_optional: bool,
    /// Where rendered configurations, pid files and logs of Janus and coturn go.
    #[arg(long, default_value = "target/pairux/run")]
    pub run_dir: PathBuf,
    /// First Janus client WebSocket port (node i: base + i).
    #[arg(long, default_value_t = 8188, hide = true)]
    pub janus_port_base: u16,
    /// First Janus admin WebSocket port (node i: base + i), on 127.0.0.1.
    #[arg(long, default_value_t = 7188, hide = true)]
    pub janus_admin_port_base: u16,
    /// First RTP port (node i: base + 1000 i to + 999).
    #[arg(long, default_value_t = 20000, hide = true)]
    pub janus_rtp_base: u16,
    /// coturn's listening port.
    #[arg(long, default_value_t = 3478, hide = true)]
    pub turn_port: u16,
    /// First of coturn's 840 relay ports (a second stack beside the first, e.g. a benchmark's
    /// relay-only server, takes another range).
    #[arg(long, default_value_t = 49160, hide = true)]
    pub turn_relay_base: u16,
}

impl MediaArgs {
    pub fn wants_turn(&self) -> bool {
        self.turn || self.relay_only
    }

    pub fn wants_anything(&self) -> bool {
        self.wants_turn() || self.sfu_nodes > 0
    }
}

/// Why the media servers did not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(
        "no media address: this machine has no non-loopback IPv4 address; pass --media-ip ADDR \
         (an address of this machine that is not loopback: Janus and coturn serve no media \
         there), or --media-optional to serve peer to peer without them"
    )]
    NoMediaIp,

    #[error(
        "`{0}` is not installed (not on PATH; set {1} to its path). On Debian: apt-get install {2}, \
         or run `cargo xtask setup`"
    )]
    Missing(&'static str, &'static str, &'static str),
    #[error("cannot find Janus's plugin folder (set PAIRUX_JANUS_LIB_DIR)")]
    NoJanusLib,
    #[error("too many SFU nodes for the port ranges")]
    Ports,
    #[error("cannot prepare {path}: {source}")]
    RunDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} did not start within {1:?}; see its log in the run directory")]
    NotUp(String, Duration),
}

/// The running media servers.
pub struct Media {
    pub media_ip: Option<IpAddr>,
    pub turn: Option<Arc<TurnPlan>>,
    pub sfu: Option<Arc<Sfu>>,
    pub run_dir: PathBuf,
    children: Vec<Supervised>,
    stop: watch::Sender<bool>,
}

impl Media {
    /// Nothing runs.
    pub fn none() -> Media {
        Media {
            media_ip: None,
            turn: None,
            sfu: None,
            run_dir: PathBuf::new(),
            children: Vec::new(),
            stop: watch::channel(false).0,
        }
    }

    /// Starts what `args` asks for and waits until each process serves.
    pub async fn start(args: &MediaArgs) -> Result<Media, MediaError> {
        if !args.wants_anything() {
            return Ok(Media::none());
        }
        let Some(media_ip) = media_address(args, default_media_ip)? else {
            // A machine off every network (or a test's loopback-only namespace): peer to peer
            // works there, so the server serves it rather than nothing.
            tracing::warn!(
                "no media address: this machine has no non-loopback IPv4 address, so neither \
                 Janus nor coturn is started — sessions stay peer to peer, with no SFU and no \
                 relay. Pass --media-ip ADDR to have them"
            );
            return Ok(Media::none());
        };
        if media_ip.is_loopback() {
            // Fine for what needs no media (the server's own tests drive Janus's API there);
            // a browser gets no picture through Janus or coturn on loopback.
            tracing::warn!(
                "--media-ip {media_ip} is a loopback address: Janus ignores loopback for media, \
                 so browsers will get no picture through the SFU or a relay. Give an address of \
                 this machine's network (`ip -4 addr` lists them)"
            );
        }
        let janus = if args.sfu_nodes > 0 {
            let bin = find_binary("janus", "PAIRUX_JANUS_BIN").ok_or(MediaError::Missing(
                "janus",
                "PAIRUX_JANUS_BIN",
                "janus",
            ))?;
            Some((bin, find_lib_dir().ok_or(MediaError::NoJanusLib)?))
        } else {
            None
        };
        let turnserver =
            if args.wants_turn() {
                Some(find_binary("turnserver", "PAIRUX_TURNSERVER_BIN").ok_or(
                    MediaError::Missing("turnserver", "PAIRUX_TURNSERVER_BIN", "coturn"),
                )?)
            } else {
                None
            };
        let run_dir = std::path::absolute(&args.run_dir).unwrap_or_else(|_| args.run_dir.clone());
        let io = |source| MediaError::RunDir {
            path: run_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&run_dir).map_err(io)?;

        let (stop, stop_rx) = watch::channel(false);
        let mut media = Media {
            media_ip: Some(media_ip),
            turn: None,
            sfu: None,
            run_dir: run_dir.clone(),
            children: Vec::new(),
            stop,
        };

        if let Some(turnserver) = turnserver {
            let mut plan = TurnPlan::new(media_ip, args.turn_port, &run_dir);
            plan.relay_ports = (
                args.turn_relay_base,
                args.turn_relay_base.saturating_add(839),
            );
            let spec = plan.prepare(&turnserver).map_err(io)?;
            media
                .children
                .push(Supervised::start(spec, stop_rx.clone()));
            media.turn = Some(Arc::new(plan));
        }
        if let Some((janus, lib_dir)) = janus {
            let ports = Ports {
                ws_base: args.janus_port_base,
                admin_base: args.janus_admin_port_base,
                rtp_base: args.janus_rtp_base,
            };
            let mut nodes = Vec::new();
            for i in 0..args.sfu_nodes {
                let plan = NodePlan::new(i, media_ip, ports, &run_dir).ok_or(MediaError::Ports)?;
                let spec = plan.prepare(&janus, &lib_dir).map_err(io)?;
                let child = Supervised::start(spec, stop_rx.clone());
                nodes.push(SfuNode::new(&plan, child.watch()));
                media.children.push(child);
            }
            media.sfu = Some(Arc::new(Sfu::new(nodes)));
        }

        let timeout = Duration::from_secs(25);
        for child in &media.children {
            if !child.wait_up(timeout).await {
                let name = child.name.clone();
                media.stop().await;
                return Err(MediaError::NotUp(name, timeout));
            }
        }
        Ok(media)
    }

    /// Stops every child and waits for them to exit.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        for child in self.children.drain(..) {
            child.join().await;
        }
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        // The supervisors kill their children when they see this (or when their runtime ends).
        let _ = self.stop.send(true);
    }
}

/// Where the media servers serve: `--media-ip`, else the address `find` finds on this machine
/// (only asked without the flag); with neither, none (`None`: the server runs without them) if `--media-optional` says
/// so — never when every connection must be relayed (`--relay-only`), which nothing could then
/// carry — else an error (an operator who asked for them is not handed a server without them).
fn media_address(
    args: &MediaArgs,
    find: impl FnOnce() -> Option<IpAddr>,
) -> Result<Option<IpAddr>, MediaError> {
    match args.media_ip.or_else(find) {
        Some(ip) => Ok(Some(ip)),
        None if args.media_optional && !args.relay_only => Ok(None),
        None => Err(MediaError::NoMediaIp),
    }
}

/// The address the kernel would send from towards the outside: the first non-loopback IPv4 of
/// a machine with a default route (no packet is sent), else the first from `ip -4 addr`.
pub fn default_media_ip() -> Option<IpAddr> {
    let routed = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.connect((Ipv4Addr::new(203, 0, 113, 1), 9)).map(|()| s))
        .and_then(|s| s.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    if routed.is_some() {
        return routed;
    }
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet")?;
            let addr = words.next()?.split('/').next()?;
            addr.parse::<IpAddr>().ok().filter(|ip| !ip.is_loopback())
        })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        media: MediaArgs,
    }

    fn args(flags: &[&str]) -> MediaArgs {
        Flags::parse_from(std::iter::once("pairux-server").chain(flags.iter().copied())).media
    }

    const FOUND: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn the_flag_wins_over_the_address_found() {
        let flagged = args(&["--turn", "--media-ip", "198.51.100.1"]);
        assert_eq!(
            media_address(&flagged, || Some(FOUND)).unwrap(),
            Some("198.51.100.1".parse().unwrap())
        );
        assert_eq!(
            media_address(&args(&["--turn"]), || Some(FOUND)).unwrap(),
            Some(FOUND)
        );
    }

    #[test]
    fn without_an_address_the_stack_runs_peer_to_peer_only_where_asked_and_never_relay_only() {
        // `cargo xtask run`'s flags (coturn always, one Janus) on a machine with only loopback.
        let run = args(&["--turn", "--sfu-nodes", "1", "--media-optional"]);
        assert!(run.wants_anything());
        assert_eq!(media_address(&run, || None).unwrap(), None);
        // An operator who asked for them, or for every connection relayed, is told.
        for flags in [
            &["--turn", "--sfu-nodes", "1"][..],
            &["--relay-only", "--media-optional"][..],
        ] {
            let err = media_address(&args(flags), || None).unwrap_err();
            assert!(matches!(err, MediaError::NoMediaIp));
            assert!(err.to_string().contains("--media-ip"), "{err}");
        }
    }
}
