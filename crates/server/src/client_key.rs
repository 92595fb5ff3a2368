//! Whom a per-client limit counts a request against: an IPv4 address, or an IPv6 address's
//! /64 — the block one subscriber is usually given, so that walking through its addresses
//! does not make a client new again. An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is
//! that IPv4 address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The key `ip`'s requests count under.
pub fn client_key(ip: IpAddr) -> IpAddr {
    block(ip, 64)
}

/// `ip` itself for IPv4 (also written as IPv6), else its IPv6 network of `v6_prefix` bits.
fn block(ip: IpAddr, v6_prefix: u32) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & (u128::MAX << (128 - v6_prefix));
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

/// What the focus's store keeps of the address a Janus token of `session` went to: a hash of
/// the address (an IPv6 address's /48 — a site's block, so that walking a site's /64s does
/// not make a client new; a Janus token is no one person's secret, so a site's people sharing
/// one costs nothing) with the session, so the store holds no address and one address's keys
/// differ between sessions. (A hash of an IPv4 address can be found again by trying them all;
/// it keeps addresses out of sight, not secret from whoever reads the database.)
pub fn token_client(session: &pairux_core::link::SessionId, ip: IpAddr) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::new()
        .chain_update(b"PairUX token client\0")
        .chain_update(session.to_string().as_bytes())
        .chain_update(b"\0")
        .chain_update(block(ip, 48).to_string().as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// `--trusted-proxy`: reverse proxies whose `X-Forwarded-For` names the client.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProxyArgs {
    /// An address block of reverse proxies in front of this server (repeatable; e.g.
    /// 10.0.0.0/8 for a load balancer). A request from one is counted against the client its
    /// proxy names in `X-Forwarded-For` — by the per-address limits, and by the focus
    /// administration, which is open to this machine only. A proxy on this machine (loopback)
    /// is always trusted; without a proxy nothing changes (a client's own header is ignored).
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted: Vec<IpNet>,
}

/// Who sent a request, as the per-address limits and the focus administration judge it: the
/// peer, or for a trusted proxy's request the client it forwards
/// ([`resolve_client`], added by [`client_addr`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// A trusted proxy forwarded it (`X-Forwarded-For` present): whoever sent it is not on
    /// this machine, whatever the header says.
    pub forwarded: bool,
}

impl ClientAddr {
    /// The client of a request that went through [`client_addr`] (none in test routers
    /// served without connection info).
    pub fn of(request: &Request) -> Option<ClientAddr> {
        request.extensions().get::<ClientAddr>().copied()
    }

    /// Its address, for the per-address limits.
    pub fn ip_in(extensions: &axum::http::Extensions) -> Option<IpAddr> {
        extensions.get::<ClientAddr>().map(|c| c.ip)
    }

    /// A client on this machine itself, not one a proxy here forwards.
    pub fn is_local(self) -> bool {
        self.ip.is_loopback() && !self.forwarded
    }
}

/// Middleware: adds the request's [`ClientAddr`] when it has its peer's address.
pub async fn client_addr(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<IpNet>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        // Only a proxy's header is read: a direct client's request costs nothing more.
        let client = if trusted_peer(peer, &trusted) {
            let forwarded = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",");
            let forwarded_for_someone = !forwarded.trim().is_empty();
            if !forwarded_for_someone && !unmapped(peer).is_loopback() {
                warn_headerless_proxy(peer);
            }
            ClientAddr {
                ip: resolve_client(peer, &forwarded, &trusted),
                forwarded: forwarded_for_someone,
            }
        } else {
            ClientAddr {
                ip: peer,
                forwarded: false,
            }
        };
        request.extensions_mut().insert(client);
    }
    next.run(request).await
}

/// A `--trusted-proxy` peer sent a request without `X-Forwarded-For`: every client behind it
/// then counts as that one address (one connection cap, one `/api/access` bucket). Said once
/// per process: the operator's proxy needs the header (`proxy_set_header X-Forwarded-For`).
fn warn_headerless_proxy(peer: IpAddr) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "a request from trusted proxy {peer} carries no X-Forwarded-For: every client behind \
             it counts as {peer} (connection caps, access rate); make the proxy add the header"
        );
    }
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// A connecting peer that is a proxy: one on this machine, or in a `--trusted-proxy` block.
fn trusted_peer(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = unmapped(ip);
    ip.is_loopback() || trusted_hop(ip, trusted)
}

/// An address in `X-Forwarded-For` that is a proxy: only the named blocks. A loopback address
/// there is what some proxy — or the client — wrote, and never a reason to read further.
fn trusted_hop(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = unmapped(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy; then, reading
/// `X-Forwarded-For` (every proxy appends the address it was reached from) from the right, the
/// first address that is not in a `--trusted-proxy` block (loopback is trusted as the
/// connecting peer only). What a client wrote into the header itself is to the left of what
/// its proxies appended, so it is never reached unless every proxy on the way is trusted. An
/// entry that is not an address stops the walk: the last trusted hop is the answer, as it is
/// when the header is missing.
pub fn resolve_client(peer: IpAddr, forwarded_for: &str, trusted: &[IpNet]) -> IpAddr {
    if !trusted_peer(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    for entry in forwarded_for.rsplit(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let parsed = entry
            .parse::<IpAddr>()
            .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()));
        let Ok(hop) = parsed else { break };
        client = hop;
        if !trusted_hop(hop, trusted) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_client_is_the_address_or_its_v6_site_hashed_with_the_session() {
        use pairux_core::link::SessionId;
        let (s, t) = (
            SessionId::from_bytes([1; 16]),
            SessionId::from_bytes([2; 16]),
        );
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        // Another /64 of the same /48.
        let b: IpAddr = "2001:db8:1:7::9".parse().unwrap();
        let other_site: IpAddr = "2001:db8:2::1".parse().unwrap();
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(token_client(&s, a), token_client(&s, b));
        assert_ne!(token_client(&s, a), token_client(&s, other_site));
        assert_eq!(token_client(&s, v4), token_client(&s, mapped));
        assert_ne!(token_client(&s, a), token_client(&s, v4));
        assert_ne!(token_client(&s, v4), token_client(&t, v4));
        assert_eq!(token_client(&s, v4).len(), 32);
        assert!(!token_client(&s, v4).contains("198.51"));
    }

    #[test]
    fn an_ipv6_block_is_one_client_and_ipv4_stays_itself() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(client_key(a), client_key(other));
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        assert_eq!(client_key("::ffff:198.51.100.7".parse().unwrap()), v4);
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_forwarded_client_counts_only_behind_a_trusted_proxy() {
        let lb: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let client = ip("203.0.113.9");
        // No proxy: the header is the client's own words.
        assert_eq!(resolve_client(client, "127.0.0.1", &lb), client);
        // A proxy on this machine: the address it appended.
        assert_eq!(resolve_client(ip("127.0.0.1"), "203.0.113.9", &[]), client);
        assert_eq!(resolve_client(ip("::1"), " 203.0.113.9 ", &[]), client);
        // What the client wrote itself sits left of it and is not believed.
        assert_eq!(
            resolve_client(ip("127.0.0.1"), "127.0.0.1, 203.0.113.9", &[]),
            client
        );
        // A loopback address in the header is not a proxy to read past (a client through a
        // trusted balancer claiming to be this machine is the address before it).
        assert_eq!(
            resolve_client(ip("10.5.5.5"), "127.0.0.1", &lb),
            ip("127.0.0.1")
        );
        assert_eq!(
            resolve_client(ip("127.0.0.1"), "203.0.113.9, 127.0.0.1", &lb),
            ip("127.0.0.1")
        );
        // Through a load balancer and a local proxy: the first hop from the right that is
        // not trusted.
        assert_eq!(
            resolve_client(ip("127.0.0.1"), "198.51.100.1, 203.0.113.9, 10.1.2.3", &lb),
            client
        );
        // The load balancer is not trusted unless it is named.
        assert_eq!(
            resolve_client(ip("127.0.0.1"), "203.0.113.9, 10.1.2.3", &[]),
            ip("10.1.2.3")
        );
        assert_eq!(
            resolve_client(ip("10.1.2.3"), "203.0.113.9", &[]),
            ip("10.1.2.3")
        );
        // With a port, as some proxies write it.
        assert_eq!(
            resolve_client(ip("127.0.0.1"), "203.0.113.9:4711", &[]),
            client
        );
        // No header, or garbage: the last trusted hop (a local client is local).
        assert_eq!(resolve_client(ip("127.0.0.1"), "", &[]), ip("127.0.0.1"));
        assert_eq!(
            resolve_client(ip("127.0.0.1"), "unknown", &[]),
            ip("127.0.0.1")
        );
        assert_eq!(
            resolve_client(ip("127.0.0.1"), "203.0.113.9, unknown, 10.1.2.3", &lb),
            ip("10.1.2.3")
        );
    }
}
