//! Every POST of the parents' pages is rate-limited per client: a burst of
//! [`BURST`], then one every [`PERIOD`]. A client is its IP address; an
//! IPv6 client is its /64 (one household's network gets many addresses
//! from one prefix), and an IPv4 address written as IPv6 (`::ffff:a.b.c.d`)
//! is that IPv4 address.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// POSTs a client may make at once.
pub const BURST: u32 = 10;
/// Then one per this long.
pub const PERIOD: Duration = Duration::from_secs(6);
/// Checks between two sweeps of clients that are back to a full burst (so
/// that the limiter's memory follows the clients of the last minute).
const SWEEP_EVERY: u64 = 4096;

/// The key a client is limited by.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A keyed limiter.
pub struct Limiter {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>,
    checks: AtomicU64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Self::new(BURST, PERIOD)
    }
}

impl Limiter {
    pub fn new(burst: u32, period: Duration) -> Self {
        let quota = Quota::with_period(period)
            .expect("a period above zero")
            .allow_burst(NonZeroU32::new(burst).expect("a burst above zero"));
        Self {
            limiter: RateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` when the client may post now; otherwise how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Invitation mails one household may send at once ([`Households`]).
pub const INVITE_BURST: u32 = 3;
/// Then one per this long.
pub const INVITE_PERIOD: Duration = Duration::from_secs(10 * 60);

/// A limiter keyed by household (a tenant and a subscriber id), for what
/// costs more than a page: an invitation mail goes to an address the
/// household typed, so one household may send a few, then one every
/// [`INVITE_PERIOD`], from whatever address it posts.
pub struct Households {
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>,
    checks: AtomicU64,
}

impl std::fmt::Debug for Households {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Households").finish_non_exhaustive()
    }
}

impl Default for Households {
    fn default() -> Self {
        Self::new(INVITE_BURST, INVITE_PERIOD)
    }
}

impl Households {
    pub fn new(burst: u32, period: Duration) -> Self {
        let quota = Quota::with_period(period)
            .expect("a period above zero")
            .allow_burst(NonZeroU32::new(burst).expect("a burst above zero"));
        Self {
            limiter: RateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` when the household may send now; otherwise how long it must wait.
    pub fn check(&self, tenant: &str, subscriber: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&format!("{tenant}\u{1f}{subscriber}"))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn clients_are_keyed_by_address_and_ipv6_prefix() {
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn a_burst_then_a_wait_for_one_client_only() {
        // A period no test outlives: the burst does not refill meanwhile.
        let limiter = Limiter::new(3, Duration::from_secs(3600));
        for _ in 0..3 {
            assert_eq!(limiter.check(ip("192.0.2.1")), Ok(()));
        }
        let wait = limiter
            .check(ip("192.0.2.1"))
            .expect_err("the burst is spent");
        assert!(wait > Duration::from_secs(3500), "{wait:?}");
        // The same client over IPv6-mapped IPv4 is the same client.
        assert!(limiter.check(ip("::ffff:192.0.2.1")).is_err());
        // Another client has its own burst; so has a household's /64 as one.
        assert_eq!(limiter.check(ip("192.0.2.2")), Ok(()));
        for i in 0..3 {
            assert_eq!(limiter.check(ip(&format!("2001:db8::{i}"))), Ok(()));
        }
        assert!(limiter.check(ip("2001:db8::ffff")).is_err());
    }

    #[test]
    fn households_have_their_own_burst() {
        let limiter = Households::new(2, Duration::from_secs(3600));
        assert_eq!(limiter.check("otaru", "a"), Ok(()));
        assert_eq!(limiter.check("otaru", "a"), Ok(()));
        assert!(limiter.check("otaru", "a").is_err(), "the burst is spent");
        assert_eq!(limiter.check("otaru", "b"), Ok(()), "another household");
        assert_eq!(limiter.check("sapporo", "a"), Ok(()), "another tenant");
    }
}
