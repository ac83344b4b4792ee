//! Which addresses [`crate::HttpsClient::post_url`] may connect to once a host is resolved.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where a client that proxies for others (an onion exit) may connect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetPolicy {
    /// Only globally routable unicast addresses (see [`is_public`]): the default.
    #[default]
    PublicOnly,
    /// Any address, loopback and private ones included (a loopback testnet, or a private
    /// deployment whose servers sit on a private network).
    AllowPrivate,
}

impl TargetPolicy {
    /// Whether this policy lets the client connect to `ip`.
    #[must_use]
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            Self::PublicOnly => is_public(ip),
            Self::AllowPrivate => true,
        }
    }
}

/// Whether `ip` is a globally routable unicast address. Refused: unspecified, loopback,
/// private (RFC 1918), shared/CGNAT (100.64/10), link-local (169.254/16, including the
/// 169.254.169.254 cloud metadata service), "this network" (0/8), IETF protocol assignments
/// (192.0.0/24), documentation, benchmarking (198.18/15), multicast, reserved (240/4) and
/// broadcast; for IPv6 also `::1`, `::`, unique local (fc00::/7), link-local (fe80::/10),
/// site-local (fec0::/10), multicast (ff00::/8), documentation (2001:db8::/32), the discard
/// prefix (100::/64), and any IPv4 address embedded as IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) or NAT64 (64:ff9b::/96), judged as that IPv4 address.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [s0, s1, s2, s3, s4, s5, s6, s7] = ip.segments();
    let embedded_v4 = || {
        let [h0, h1] = s6.to_be_bytes();
        let [l0, l1] = s7.to_be_bytes();
        Ipv4Addr::new(h0, h1, l0, l1)
    };
    // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96 (which holds :: and ::1 too).
    if s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0 && (s5 == 0 || s5 == 0xffff) {
        return is_public_v4(embedded_v4());
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if s0 == 0x64 && s1 == 0xff9b && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 {
        return is_public_v4(embedded_v4());
    }
    let refused = (s0 & 0xfe00) == 0xfc00
        || (s0 & 0xffc0) == 0xfe80
        || (s0 & 0xffc0) == 0xfec0
        || (s0 & 0xff00) == 0xff00
        || (s0 == 0x2001 && s1 == 0x0db8)
        || (s0 == 0x0100 && s1 == 0 && s2 == 0 && s3 == 0);
    !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.5",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.180.0.200",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} passed");
            assert!(!TargetPolicy::PublicOnly.allows(ip), "{ip}");
            assert!(TargetPolicy::AllowPrivate.allows(ip), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "144.76.164.202",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a01:4f8::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} refused");
            assert!(TargetPolicy::PublicOnly.allows(ip), "{ip}");
        }
    }
}
