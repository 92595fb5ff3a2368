//! Whom a per-client limit counts a request against: an IPv4 address, or an IPv6 address's
//! /64 — the block one subscriber is usually given, so that walking through its addresses
//! does not make a client new again. An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is
//! that IPv4 address.

use std::net::{IpAddr, Ipv6Addr};

/// The key `ip`'s requests count under.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
