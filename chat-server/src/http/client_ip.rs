//! What a trusted proxy may tell about the client: its address for rate limiting (the TCP
//! peer, or — only when the peer is a trusted proxy (`CHAT_TRUSTED_PROXIES`) — the nearest
//! untrusted hop of `X-Forwarded-For`), and whether it came over https
//! (`X-Forwarded-Proto`), which decides `Secure` cookies.

use http::HeaderMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The TCP peer of a connection, put into every request's extensions by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// An address or a CIDR block (`10.0.0.0/8`, `::1`) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Whether `ip` lies in this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network = canonical(
            addr.parse::<IpAddr>()
                .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?,
        );
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has an invalid prefix length"))?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the peer unless it is a trusted proxy, in which case
/// `X-Forwarded-For` is walked from the right (the hop our proxy appended) past every trusted
/// proxy to the first address that is not one. Only the part right of that is believed: a
/// hop that is not an address ends the walk (the nearest trusted hop seen is then the best
/// answer), so nothing a client writes at the left can hide or replace its address.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut nearest = peer;
    for hop in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        let hop = hop.trim();
        if hop.is_empty() {
            continue;
        }
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        if !is_trusted(ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// When cookies carry the `Secure` attribute (and the session cookie the `__Host-` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureCookies {
    /// When the request came over TLS: a trusted proxy says `X-Forwarded-Proto: https`
    /// (the server itself speaks plain HTTP).
    Auto,
    /// Always (the server is only ever reached over https).
    Always,
    /// Never (plain-HTTP development set-ups behind a TLS-terminating proxy that does not
    /// send `X-Forwarded-Proto`).
    Never,
}

/// Whether the client reached us over https: only a trusted proxy can say so (the server
/// itself speaks plain HTTP), with `X-Forwarded-Proto: https` (its first value, when a
/// chain of proxies lists several).
pub fn came_over_https(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> bool {
    let Some(peer) = peer.map(canonical) else {
        return false;
    };
    trusted.iter().any(|t| t.contains(peer))
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Whether cookies set in answer to this request carry `Secure`.
pub fn secure_cookies(
    setting: SecureCookies,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> bool {
    match setting {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => came_over_https(peer, headers, trusted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn check(peer: &str, xff: Option<&str>, trusted: &[&str]) -> String {
        let mut h = HeaderMap::new();
        if let Some(x) = xff {
            h.insert("x-forwarded-for", HeaderValue::from_str(x).unwrap());
        }
        client_ip(Some(peer.parse().unwrap()), &h, &proxies(trusted))
            .unwrap()
            .to_string()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        assert_eq!(check("203.0.113.9", Some("1.2.3.4"), &[]), "203.0.113.9");
        assert_eq!(
            check("10.0.0.5", Some("1.2.3.4"), &["10.0.0.0/8"]),
            "1.2.3.4"
        );
        // The client may prepend anything; the hop the proxy appended is what counts.
        assert_eq!(
            check(
                "10.0.0.5",
                Some("6.6.6.6, 1.2.3.4, 10.0.0.7"),
                &["10.0.0.0/8"]
            ),
            "1.2.3.4"
        );
        assert_eq!(check("10.0.0.5", None, &["10.0.0.5"]), "10.0.0.5");
        assert_eq!(
            check("::ffff:10.0.0.5", Some("1.2.3.4"), &["10.0.0.5"]),
            "1.2.3.4"
        );
        assert_eq!(check("::1", Some("2001:db8::1"), &["::1"]), "2001:db8::1");
    }

    #[test]
    fn a_junk_hop_from_the_client_does_not_hide_the_hop_the_proxy_appended() {
        let trusted = &["10.0.0.0/8"];
        assert_eq!(check("10.0.0.5", Some("junk, 1.2.3.4"), trusted), "1.2.3.4");
        assert_eq!(
            check(
                "10.0.0.5",
                Some("1.1.1.1, not-an-ip, 1.2.3.4, 10.0.0.7"),
                trusted
            ),
            "1.2.3.4"
        );
        // Junk right of every untrusted hop: the nearest trusted hop is all we know.
        assert_eq!(
            check("10.0.0.5", Some("1.2.3.4, junk, 10.0.0.7"), trusted),
            "10.0.0.7"
        );
        assert_eq!(check("10.0.0.5", Some("junk"), trusted), "10.0.0.5");
        assert_eq!(check("10.0.0.5", Some(""), trusted), "10.0.0.5");
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_blocks() {
        assert!("10.0.0.0/8".parse::<TrustedProxy>().is_ok());
        assert!(
            "0.0.0.0/0"
                .parse::<TrustedProxy>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
        assert!("proxy.local".parse::<TrustedProxy>().is_err());
    }

    #[test]
    fn only_a_trusted_proxy_can_say_the_client_came_over_https() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = |proto: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-proto", HeaderValue::from_str(proto).unwrap());
            h
        };
        let proxy = Some("10.1.2.3".parse().unwrap());
        let stranger = Some("192.0.2.7".parse().unwrap());
        let check = |setting, peer, h: &HeaderMap| secure_cookies(setting, peer, h, &trusted);
        assert!(check(SecureCookies::Auto, proxy, &headers("https")));
        assert!(check(SecureCookies::Auto, proxy, &headers("HTTPS, http")));
        assert!(!check(SecureCookies::Auto, proxy, &headers("http, https")));
        assert!(!check(SecureCookies::Auto, stranger, &headers("https")));
        assert!(!check(SecureCookies::Auto, proxy, &HeaderMap::new()));
        assert!(!check(SecureCookies::Auto, None, &headers("https")));
        assert!(check(SecureCookies::Always, stranger, &HeaderMap::new()));
        assert!(!check(SecureCookies::Never, proxy, &headers("https")));
    }
}
