//! The import filter: a neighbor's `import = ["10.0.0.0/8 le 24", ...]`.
//!
//! Each rule is `P [ge M] [le N]` as in a Cisco or FRR prefix list: a
//! prefix matches when it lies inside `P` and its length is in `M..=N`.
//! Without `ge` and `le` the length must equal `P`'s; with only `le`, `M`
//! is `P`'s length; with only `ge`, `N` is the family's longest. A prefix
//! is accepted when some rule matches. No `import` at all accepts every
//! prefix: RFC 8212's default reject is for speakers that pass routes on,
//! and guardian never advertises (docs say so). Rules are tried in order,
//! one by one: lists are short, and a trie would cost more than it saves.

use super::types::{mask, masked, Prefix};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrefixFilter {
    /// `None`: accept all.
    rules: Option<Vec<Rule>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    within: Prefix,
    ge: u8,
    le: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule:?}: {why}")]
pub struct FilterError {
    pub rule: String,
    pub why: String,
}

impl PrefixFilter {
    /// No `import` configured.
    pub fn accept_all() -> PrefixFilter {
        PrefixFilter { rules: None }
    }

    /// Only what one of `rules` matches (an empty list accepts nothing).
    pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<PrefixFilter, FilterError> {
        let rules = rules.iter().map(|r| parse_rule(r.as_ref())).collect::<Result<_, _>>()?;
        Ok(PrefixFilter { rules: Some(rules) })
    }

    /// The rules `[[bgp.neighbor]] import` was validated into (none: accept all).
    pub fn from_config(rules: &[crate::config::PrefixFilter]) -> PrefixFilter {
        if rules.is_empty() {
            return PrefixFilter::accept_all();
        }
        let rules = rules
            .iter()
            .filter_map(|r| {
                let within = Prefix::new(r.prefix.addr, r.prefix.len)?;
                Some(Rule { within, ge: r.ge, le: r.le })
            })
            .collect();
        PrefixFilter { rules: Some(rules) }
    }

    pub fn accepts(&self, p: &Prefix) -> bool {
        match &self.rules {
            None => true,
            Some(rules) => rules.iter().any(|r| r.matches(p)),
        }
    }
}

impl Rule {
    fn matches(&self, p: &Prefix) -> bool {
        p.family == self.within.family
            && (self.ge..=self.le).contains(&p.len)
            && p.bits() & mask(self.within.len) == self.within.bits()
    }
}

fn parse_rule(text: &str) -> Result<Rule, FilterError> {
    let err = |why: String| FilterError { rule: text.to_owned(), why };
    let mut words = text.split_whitespace();
    let first = words.next().ok_or_else(|| err("an empty rule; write a prefix such as 10.0.0.0/8 le 24".into()))?;
    let within = parse_prefix(first).map_err(err)?;
    let max = within.family.max_prefix();
    let (mut ge, mut le) = (None, None);
    while let Some(word) = words.next() {
        let slot = match word {
            "ge" => &mut ge,
            "le" => &mut le,
            _ => return Err(err(format!("{word:?} is neither `ge` nor `le`"))),
        };
        if slot.is_some() {
            return Err(err(format!("`{word}` given twice")));
        }
        let n = words.next().ok_or_else(|| err(format!("`{word}` needs a prefix length after it")))?;
        let n: u8 = n
            .parse()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| err(format!("`{word} {n}`: a prefix length of this family is 0 to {max}")))?;
        *slot = Some(n);
    }
    let (ge, le) = match (ge, le) {
        (None, None) => (within.len, within.len),
        (ge, le) => (ge.unwrap_or(within.len), le.unwrap_or(max)),
    };
    if ge < within.len {
        return Err(err(format!("`ge {ge}` is shorter than the prefix's own length /{}", within.len)));
    }
    if ge > le {
        return Err(err(format!("`ge {ge}` is longer than `le {le}`: nothing would match")));
    }
    Ok(Rule { within, ge, le })
}

fn parse_prefix(text: &str) -> Result<Prefix, String> {
    let (addr, len) = text.split_once('/').ok_or_else(|| format!("{text:?} is not a prefix such as 10.0.0.0/8"))?;
    let ip: IpAddr = addr.parse().map_err(|_| format!("{addr:?} is not an IP address"))?;
    let len: u8 = len.parse().map_err(|_| format!("{len:?} is not a prefix length"))?;
    let p = Prefix::new(ip, len).ok_or_else(|| format!("/{len} is too long for {ip}"))?;
    if masked(crate::route::Addr::from_ip(&ip), len) != p.addr || p.ip() != ip {
        return Err(format!("{text} has host bits set; write {p}"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests;
