//! Where run networks get their addresses: small blocks carved from one configured range.
//!
//! Left to itself the engine gives every bridge network a whole /16 or /20 from its default
//! address pools (172.17–172.31.0.0/16 and 192.168.0.0/16 in /20s), about 31 networks in all,
//! so a runner host would top out at about 31 concurrent runs with an LLM budget. A run
//! network holds two containers (the agent and its relay) next to the reserved gateway
//! address, so a /29 (five usable addresses) is plenty, and the default range, a /16, holds
//! 8,192 of them.
//!
//! Several processes on one host (two runners, a runner and `whetstone agent test`) allocate
//! from the same range without talking to each other. Each process scans the blocks from a
//! random start, skips those an existing network already covers (the engine lists every
//! network's subnet, including what a crashed process left), and when another process takes
//! the same block first the engine refuses the second creation with "Pool overlaps", after
//! which the scan moves on. A crashed runner's networks keep their blocks until the janitor
//! removes them by their labels (at the runner's restart, or on its timer).
//!
//! # Why 10.77.0.0/16
//!
//! It avoids the engine's default pools (172.17–172.31.0.0/16, 192.168.0.0/16), home and
//! office LANs (192.168.x, 10.0.x, 10.1.x, 172.16.x), the common cloud defaults (AWS default
//! VPC 172.31.0.0/16, AWS and Azure 10.0.0.0/16, GCP auto mode 10.128.0.0/9, DigitalOcean
//! 10.104–10.136), Kubernetes (services 10.96.0.0/12, pods 10.244.0.0/16, k3s 10.42–10.43),
//! Podman (10.88–10.89), OpenVPN's 10.8.0.0/24 and Tailscale's 100.64.0.0/10. Even where it
//! does overlap a network the host routes to, run networks are created with the host kept
//! off them (no address, so no route on the host), so an overlap hides that network from
//! agents only, which have no way off their run network anyway. Choose another range with
//! [`RunSubnets::new`] (the runner's `--run-network-range`).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Deserialize;

/// The smallest block that holds an agent and its relay besides the network address, the
/// gateway and the broadcast address.
pub const MAX_BLOCK_PREFIX: u8 = 29;
/// Ranges wider than this are refused: no host needs millions of run networks, and a typo
/// such as `10.0.0.0/1` should not swallow addresses the operator uses.
pub const MIN_RANGE_PREFIX: u8 = 8;

/// An aligned IPv4 network: `10.77.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Block {
    base: u32,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    #[error("invalid network {0:?}: expected an IPv4 network such as 10.77.0.0/16")]
    Syntax(String),
    #[error("invalid network {text}: the prefix length must be 0 to 32")]
    Prefix { text: String },
    #[error("invalid network {text}: its host bits are not zero (did you mean {aligned}?)")]
    NotAligned { text: String, aligned: Ipv4Block },
    #[error("run network range {0} is not a private range: use one inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10")]
    NotPrivate(Ipv4Block),
    #[error("run network range {range} is too wide: use a /{MIN_RANGE_PREFIX} or narrower")]
    TooWide { range: Ipv4Block },
    #[error(
        "run network blocks of /{block_prefix} do not fit range {range}: the block prefix must be between the range's ({}) and {MAX_BLOCK_PREFIX} (a /{MAX_BLOCK_PREFIX} holds the agent and its relay)",
        range.prefix
    )]
    BlockPrefix { range: Ipv4Block, block_prefix: u8 },
}

impl Ipv4Block {
    /// `None` when `base` has host bits set or `prefix` is over 32.
    pub fn new(base: Ipv4Addr, prefix: u8) -> Option<Self> {
        let base = u32::from(base);
        (prefix <= 32 && base & !mask(prefix) == 0).then_some(Self { base, prefix })
    }

    pub fn base(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The first host address, which the engine reserves as the network's gateway.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(1))
    }

    fn last(&self) -> u32 {
        self.base | !mask(self.prefix)
    }

    pub fn contains(&self, other: &Ipv4Block) -> bool {
        self.prefix <= other.prefix && other.base & mask(self.prefix) == self.base
    }

    pub fn overlaps(&self, other: &Ipv4Block) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }

    fn is_private(&self) -> bool {
        const PRIVATE: [(u32, u8); 4] = [(0x0a00_0000, 8), (0xac10_0000, 12), (0xc0a8_0000, 16), (0x6440_0000, 10)];
        PRIVATE.iter().any(|&(base, prefix)| Self { base, prefix }.contains(self))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

impl FromStr for Ipv4Block {
    type Err = SubnetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || SubnetError::Syntax(text.to_owned());
        let (addr, prefix) = text.trim().split_once('/').ok_or_else(syntax)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| syntax())?;
        let prefix: u8 = prefix.parse().map_err(|_| syntax())?;
        if prefix > 32 {
            return Err(SubnetError::Prefix { text: text.to_owned() });
        }
        Self::new(addr, prefix).ok_or_else(|| SubnetError::NotAligned {
            text: text.to_owned(),
            aligned: Self { base: u32::from(addr) & mask(prefix), prefix },
        })
    }
}

impl fmt::Display for Ipv4Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base(), self.prefix)
    }
}

impl<'de> Deserialize<'de> for Ipv4Block {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which addresses run networks take: blocks of `/block_prefix` inside `range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RunSubnetsConfig")]
pub struct RunSubnets {
    range: Ipv4Block,
    block_prefix: u8,
}

/// [`RunSubnets`] as written in a config file.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RunSubnetsConfig {
    /// The private IPv4 range run networks are carved from. Default `10.77.0.0/16`.
    range: Ipv4Block,
    /// Each run network's prefix length. Default 29 (8 addresses: the agent, its relay, the
    /// reserved gateway, three spare).
    block_prefix: u8,
}

impl Default for RunSubnetsConfig {
    fn default() -> Self {
        let RunSubnets { range, block_prefix } = RunSubnets::default();
        Self { range, block_prefix }
    }
}

impl TryFrom<RunSubnetsConfig> for RunSubnets {
    type Error = SubnetError;

    fn try_from(config: RunSubnetsConfig) -> Result<Self, Self::Error> {
        Self::new(config.range, config.block_prefix)
    }
}

impl RunSubnets {
    /// The default range.
    pub const DEFAULT_RANGE: Ipv4Block = Ipv4Block { base: 0x0a4d_0000, prefix: 16 };
    /// The default block: a /29.
    pub const DEFAULT_BLOCK_PREFIX: u8 = MAX_BLOCK_PREFIX;

    /// Checks that `range` is private and not absurdly wide and that `/block_prefix` blocks fit.
    pub fn new(range: Ipv4Block, block_prefix: u8) -> Result<Self, SubnetError> {
        if !range.is_private() {
            return Err(SubnetError::NotPrivate(range));
        }
        if range.prefix < MIN_RANGE_PREFIX {
            return Err(SubnetError::TooWide { range });
        }
        if block_prefix < range.prefix || block_prefix > MAX_BLOCK_PREFIX {
            return Err(SubnetError::BlockPrefix { range, block_prefix });
        }
        Ok(Self { range, block_prefix })
    }

    pub fn range(&self) -> Ipv4Block {
        self.range
    }

    pub fn block_prefix(&self) -> u8 {
        self.block_prefix
    }

    /// How many run networks fit.
    pub fn block_count(&self) -> u32 {
        1 << (self.block_prefix - self.range.prefix)
    }

    /// The `index`th block (modulo the count).
    pub fn block(&self, index: u32) -> Ipv4Block {
        let size = 1u32 << (32 - u32::from(self.block_prefix));
        let index = index % self.block_count();
        Ipv4Block { base: self.range.base + index * size, prefix: self.block_prefix }
    }
}

impl Default for RunSubnets {
    /// `10.77.0.0/16` in /29 blocks: 8,192 run networks.
    fn default() -> Self {
        Self { range: Self::DEFAULT_RANGE, block_prefix: Self::DEFAULT_BLOCK_PREFIX }
    }
}

impl fmt::Display for RunSubnets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in /{} blocks", self.range, self.block_prefix)
    }
}

/// One process's walk over a [`RunSubnets`]: every candidate any caller in this process
/// considers is a different block until the walk wraps, so concurrent creations in one
/// process never race for a block; races with other processes end in the engine's
/// "Pool overlaps" refusal and the next candidate.
#[derive(Debug)]
pub(crate) struct SubnetWalk {
    subnets: RunSubnets,
    next: AtomicU32,
}

impl SubnetWalk {
    /// Starts at a random block, so that two processes on one host rarely contend at all.
    pub(crate) fn new(subnets: RunSubnets) -> Self {
        let start = uuid::Uuid::new_v4().as_u128() as u32;
        Self::starting_at(subnets, start)
    }

    pub(crate) fn starting_at(subnets: RunSubnets, start: u32) -> Self {
        Self { subnets, next: AtomicU32::new(start) }
    }

    pub(crate) fn subnets(&self) -> RunSubnets {
        self.subnets
    }

    /// The next candidate block.
    pub(crate) fn next_block(&self) -> Ipv4Block {
        self.subnets.block(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// The next candidate that overlaps none of `taken`, looking at no more than `budget`
    /// candidates (each one looked at is taken off it); `None` when the budget runs out.
    pub(crate) fn next_free(&self, taken: &[Ipv4Block], budget: &mut u32) -> Option<Ipv4Block> {
        while *budget > 0 {
            *budget -= 1;
            let block = self.next_block();
            if !taken.iter().any(|t| t.overlaps(&block)) {
                return Some(block);
            }
        }
        None
    }
}

/// The IPv4 subnets an engine's network list declares (IPv6 and malformed entries ignored).
pub(crate) fn subnets_in_use(networks: &[bollard::models::Network]) -> Vec<Ipv4Block> {
    networks
        .iter()
        .filter_map(|network| network.ipam.as_ref()?.config.as_ref())
        .flatten()
        .filter_map(|config| config.subnet.as_deref()?.parse().ok())
        .collect()
}

/// The engine refuses a subnet that overlaps another network's with "Pool overlaps with other
/// one on this address space".
pub(crate) fn is_pool_overlap(err: &bollard::errors::Error) -> bool {
    matches!(err, bollard::errors::Error::DockerResponseServerError { message, .. } if message.contains("Pool overlaps"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str) -> Ipv4Block {
        text.parse().expect(text)
    }

    #[test]
    fn blocks_parse_strictly() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("10.77.0.0/16", Ok("10.77.0.0/16")),
            (" 172.16.0.0/12 ", Ok("172.16.0.0/12")),
            ("10.77.0.8/29", Ok("10.77.0.8/29")),
            ("10.77.0.1/16", Err("host bits are not zero (did you mean 10.77.0.0/16?)")),
            ("10.77.0.0", Err("expected an IPv4 network")),
            ("10.77.0.0/33", Err("prefix length must be 0 to 32")),
            ("fd00::/8", Err("expected an IPv4 network")),
            ("10.77.0.0/x", Err("expected an IPv4 network")),
        ];
        for (text, expected) in cases {
            match (text.parse::<Ipv4Block>(), expected) {
                (Ok(parsed), Ok(shown)) => assert_eq!(parsed.to_string(), *shown, "{text}"),
                (Err(error), Err(fragment)) => assert!(error.to_string().contains(fragment), "{text}: {error}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn ranges_must_be_private_sane_and_fit_their_blocks() {
        let cases: &[(&str, u8, Result<u32, &str>)] = &[
            ("10.77.0.0/16", 29, Ok(8192)),
            ("10.77.0.0/16", 28, Ok(4096)),
            ("10.78.0.0/27", 29, Ok(4)),
            ("100.64.0.0/10", 24, Ok(16384)),
            ("192.168.100.0/24", 29, Ok(32)),
            ("8.8.0.0/16", 29, Err("not a private range")),
            ("172.32.0.0/16", 29, Err("not a private range")),
            ("10.0.0.0/8", 29, Ok(1 << 21)),
            ("10.77.0.0/16", 30, Err("block prefix must be between")),
            ("10.77.0.0/16", 15, Err("block prefix must be between")),
        ];
        for (range, prefix, expected) in cases {
            match (RunSubnets::new(block(range), *prefix), expected) {
                (Ok(subnets), Ok(count)) => assert_eq!(subnets.block_count(), *count, "{range} /{prefix}"),
                (Err(error), Err(fragment)) => assert!(error.to_string().contains(fragment), "{range} /{prefix}: {error}"),
                (got, want) => panic!("{range} /{prefix}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn blocks_tile_the_range_and_wrap() {
        let subnets = RunSubnets::new(block("10.78.0.0/27"), 29).expect("valid");
        let blocks: Vec<String> = (0..5).map(|i| subnets.block(i).to_string()).collect();
        assert_eq!(blocks, ["10.78.0.0/29", "10.78.0.8/29", "10.78.0.16/29", "10.78.0.24/29", "10.78.0.0/29"]);
        assert_eq!(subnets.block(1).first_host(), Ipv4Addr::new(10, 78, 0, 9));
        let default = RunSubnets::default();
        assert_eq!(default.to_string(), "10.77.0.0/16 in /29 blocks");
        assert_eq!(default.block(8191).to_string(), "10.77.255.248/29");
    }

    #[test]
    fn overlap_is_symmetric_and_exact() {
        let cases = [
            ("10.77.0.0/29", "10.77.0.0/29", true),
            ("10.77.0.0/29", "10.77.0.8/29", false),
            ("10.77.0.0/16", "10.77.200.8/29", true),
            ("10.76.0.0/16", "10.77.0.0/16", false),
            ("10.0.0.0/8", "10.77.0.0/29", true),
            ("0.0.0.0/0", "10.77.0.0/29", true),
        ];
        for (a, b, overlaps) in cases {
            assert_eq!(block(a).overlaps(&block(b)), overlaps, "{a} {b}");
            assert_eq!(block(b).overlaps(&block(a)), overlaps, "{b} {a}");
        }
    }

    #[test]
    fn a_walk_skips_taken_blocks_and_gives_up_after_one_lap() {
        let subnets = RunSubnets::new(block("10.78.0.0/27"), 29).expect("valid");
        let walk = SubnetWalk::starting_at(subnets, 3);
        // A foreign /28 covers the first two blocks, a leftover /29 the last.
        let taken = [block("10.78.0.0/28"), block("10.78.0.24/29")];
        let mut budget = subnets.block_count();
        assert_eq!(walk.next_free(&taken, &mut budget), Some(block("10.78.0.16/29")));
        assert_eq!(budget, 0, "four candidates looked at");
        let mut budget = subnets.block_count();
        assert_eq!(walk.next_free(&[block("10.78.0.0/27")], &mut budget), None);
    }

    #[test]
    fn config_files_name_range_and_block_prefix() {
        let parse = |json: &str| serde_json::from_str::<RunSubnets>(json).map_err(|e| e.to_string());
        assert_eq!(parse("{}").expect("defaults"), RunSubnets::default());
        let custom = parse(r#"{"range": "10.78.0.0/24", "block_prefix": 28}"#).expect("custom");
        assert_eq!(custom.block_count(), 16);
        let error = parse(r#"{"range": "8.8.8.0/24"}"#).expect_err("public range");
        assert!(error.contains("not a private range"), "{error}");
        let error = parse(r#"{"ranges": "10.78.0.0/24"}"#).expect_err("typo");
        assert!(error.contains("unknown field"), "{error}");
    }
}
