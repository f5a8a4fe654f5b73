//! `[[guard]]` sections: routes another daemon owns (BIRD, FRR's zebra,
//! doublezerod...) that guardian keeps in place, validated into
//! [`GuardConfig`]s (design: ../shared/design/guard.md, README: Guarding
//! other daemons' routes).
//!
//! A guard selects kernel routes by protocol, table and destination; what
//! selects a route is decided from the configuration alone, so two guards
//! that could both select one route are refused here, before any route is
//! seen. Nothing here reads a clock, a socket or the kernel; the only file
//! read is rt_protos, through [`Protocols`].

use super::protocols::{self, Protocols};
use super::units::{HumanDuration, ProtocolText};
use super::{line_of, parse_prefix, EntryError, Prefix};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;
use toml::Spanned;

/// What a guard does about a selected route that a stranger deleted or
/// replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// Put it back, exactly as the kernel had it.
    #[default]
    Repair,
    /// Change nothing: log and count the verdict guardian would have
    /// reached. How an operator tries guardian on a production host first.
    Audit,
}

impl GuardMode {
    pub fn label(self) -> &'static str {
        match self {
            GuardMode::Repair => "repair",
            GuardMode::Audit => "audit",
        }
    }
}

/// What a guard does when the deleter of a selected route cannot be
/// determined at all (no eBPF record, and a port id that resolves to no
/// process).
///
/// The default is `Repair`: guardian exists to keep routes, and an owner is
/// almost never the unknown deleter. Owners are long-lived daemons that
/// keep their netlink socket open (BIRD, zebra, doublezerod), so even
/// without eBPF the notification's port id resolves to them; what stays
/// unknown is a short-lived process (`ip route del`, a script) that exited
/// before it could be looked up, which is exactly the stranger a guard is
/// for. `Accept` is for an owner that deletes through short-lived helpers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownDeleter {
    /// Treat it as a stranger: put the route back.
    #[default]
    Repair,
    /// Treat it as the owner: the route leaves the guard.
    Accept,
}

impl UnknownDeleter {
    pub fn label(self) -> &'static str {
        match self {
            UnknownDeleter::Repair => "repair",
            UnknownDeleter::Accept => "accept",
        }
    }
}

/// How long the owner has to put back routes the kernel removed (link down,
/// address gone) once the cause has ended, before guardian does.
///
/// 10 s: owners re-add such routes themselves, at their next event or scan
/// (FRR at once; BIRD at its next kernel scan, 6-10 s measured with `scan
/// time 10`), and guardian racing them would only make two writers of one
/// route. Longer would leave a route the owner does not restore missing for
/// longer than the owner's own slowest repair is worth waiting for.
pub const DEFAULT_KERNEL_CAUSE_GRACE: Duration = Duration::from_secs(10);

/// Comm names are at most this long: the kernel keeps TASK_COMM_LEN (16)
/// bytes with the terminating NUL and truncates the rest.
pub const MAX_COMM_LEN: usize = 15;

/// One `[[guard]]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// Unique among the guards; the `guard=` field of log lines.
    pub name: String,
    pub protocol: u8,
    /// Sorted, without duplicates; `None`: every table.
    pub tables: Option<Vec<u32>>,
    /// Empty: every destination.
    pub prefixes: Vec<Prefix>,
    /// Process names (comm) whose own deletions and replacements are
    /// respected.
    pub owner: Vec<String>,
    /// The last component of the owner's cgroup v2 path (its systemd unit).
    pub owner_unit: Option<String>,
    pub mode: GuardMode,
    pub unknown_deleter: UnknownDeleter,
    /// See [`DEFAULT_KERNEL_CAUSE_GRACE`].
    pub kernel_cause_grace: Duration,
}

impl GuardConfig {
    /// Whether a kernel route is under this guard.
    pub fn selects(&self, table: u32, protocol: u8, dst: IpAddr, dst_len: u8) -> bool {
        protocol == self.protocol
            && self.tables.as_ref().is_none_or(|t| t.binary_search(&table).is_ok())
            && (self.prefixes.is_empty() || self.prefixes.iter().any(|p| p.contains(dst, dst_len)))
    }

    /// Whether some route could be selected by both (same protocol,
    /// overlapping tables and prefixes); `Some` says where they meet.
    fn overlap(&self, other: &GuardConfig) -> Option<String> {
        if self.protocol != other.protocol {
            return None;
        }
        let tables = match (&self.tables, &other.tables) {
            (None, None) => "every table".to_owned(),
            (Some(t), None) | (None, Some(t)) => format!("table {}", t[0]),
            (Some(a), Some(b)) => format!("table {}", a.iter().find(|t| b.binary_search(t).is_ok())?),
        };
        let prefixes = match (self.prefixes.as_slice(), other.prefixes.as_slice()) {
            ([], []) => "every destination".to_owned(),
            (p, []) | ([], p) => p[0].to_string(),
            (a, b) => {
                let (x, y) = a.iter().find_map(|x| b.iter().find(|y| x.overlaps(y)).map(|y| (x, y)))?;
                if x == y {
                    x.to_string()
                } else {
                    format!("{x} and {y}")
                }
            }
        };
        Some(format!("protocol {}, {tables}, {prefixes}", self.protocol))
    }

    /// One line for `guardian check-config`.
    pub fn describe(&self, protocols: &Protocols) -> String {
        let list = |items: Vec<String>| if items.is_empty() { "none".to_owned() } else { items.join(",") };
        let mut s = format!("guard {:?}: protocol {}", self.name, self.protocol);
        if let Some(name) = protocols.name(self.protocol) {
            let _ = write!(s, " ({name})");
        }
        let tables = match &self.tables {
            None => "every".to_owned(),
            Some(t) => list(t.iter().map(u32::to_string).collect()),
        };
        let prefixes = if self.prefixes.is_empty() {
            "every".to_owned()
        } else {
            list(self.prefixes.iter().map(Prefix::to_string).collect())
        };
        let _ = write!(
            s,
            ", tables {tables}, prefixes {prefixes}, owner {}, owner_unit {}, mode {}, unknown_deleter {}, \
             kernel_cause_grace {}",
            list(self.owner.clone()),
            self.owner_unit.as_deref().unwrap_or("none"),
            self.mode.label(),
            self.unknown_deleter.label(),
            humantime::format_duration(self.kernel_cause_grace),
        );
        s
    }
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GuardEntry {
    name: Option<Spanned<String>>,
    protocol: Spanned<ProtocolText>,
    tables: Option<Spanned<Vec<Spanned<u32>>>>,
    prefixes: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    owner: Vec<Spanned<String>>,
    owner_unit: Option<Spanned<String>>,
    #[serde(default)]
    mode: GuardMode,
    #[serde(default)]
    unknown_deleter: UnknownDeleter,
    kernel_cause_grace: Option<HumanDuration>,
}

// ---- validation ------------------------------------------------------------

/// Validates every guard, then the rules between them: unique names, no
/// route selectable by two guards. `route_protocol` is guardian's own;
/// `text` is the file, for the line of the other guard an error names.
/// Warnings (a protocol name two numbers share) are pushed to `warnings`.
pub(super) fn validate(
    entries: Vec<GuardEntry>,
    route_protocol: u8,
    protocols: &Protocols,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<GuardConfig>, EntryError> {
    let mut guards = Vec::with_capacity(entries.len());
    // Each guard's location: its `protocol`, the one key it always has.
    let mut at = Vec::with_capacity(entries.len());
    let mut named = Vec::with_capacity(entries.len());
    for entry in entries {
        let (guard, warning) = guard(&entry, route_protocol, protocols)?;
        if let Some(w) = warning {
            warnings.push(format!("line {}: `guard.protocol`: {w}", line_of(text, entry.protocol.span().start)));
        }
        at.push(entry.protocol.span());
        named.push(entry.name.is_some());
        guards.push(guard);
    }

    let mut names: HashMap<&str, usize> = HashMap::with_capacity(guards.len());
    for (i, g) in guards.iter().enumerate() {
        let Some(first) = names.insert(&g.name, i) else { continue };
        let line = line_of(text, at[first].start);
        let message = if !named[first] && !named[i] {
            format!(
                "two guards on protocol {} without a `name` would both be called {:?} (the other is on line \
                 {line}): give each a `name`",
                g.protocol, g.name
            )
        } else {
            format!("guard name {:?} is also the name of the guard on line {line}; names must be unique", g.name)
        };
        return Err((at[i].clone(), if named[i] { "guard.name" } else { "guard" }, message));
    }

    for (j, b) in guards.iter().enumerate() {
        for (i, a) in guards[..j].iter().enumerate() {
            if let Some(meet) = a.overlap(b) {
                let message = format!(
                    "guard {:?} and guard {:?} (line {}) could select the same route ({meet}); a route has one \
                     owner: give them different tables or prefixes that do not overlap, or merge them",
                    b.name,
                    a.name,
                    line_of(text, at[i].start)
                );
                return Err((at[j].clone(), "guard", message));
            }
        }
    }
    Ok(guards)
}

/// One guard on its own; `Some` warning when its protocol's name stands
/// for several numbers.
fn guard(
    e: &GuardEntry,
    route_protocol: u8,
    protocols: &Protocols,
) -> Result<(GuardConfig, Option<String>), EntryError> {
    let written = &e.protocol.get_ref().0;
    let resolved = protocols::resolve(written, protocols).map_err(|m| (e.protocol.span(), "guard.protocol", m))?;
    let protocol = resolved.number;
    if protocol == route_protocol {
        return Err((
            e.protocol.span(),
            "guard.protocol",
            format!(
                "protocol {protocol} is guardian's own `daemon.route_protocol`: guardian keeps those routes \
                 already (its [[route]]s); a guard is for another daemon's protocol"
            ),
        ));
    }
    let warning = (!resolved.also.is_empty()).then(|| {
        let also: Vec<String> = resolved.also.iter().map(u8::to_string).collect();
        format!(
            "{written:?} names protocol {protocol} and also {} in this system's rt_protos; this guard takes \
             {protocol} (the lowest, as `ip` does): write the number to say which (FRR staticd's routes are 196)",
            also.join(", ")
        )
    });

    let name = match &e.name {
        Some(n) => {
            let text = n.get_ref();
            if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c.is_control()) {
                let message = format!("{text:?} is not a guard name: one word, e.g. \"bird\" or \"frr-static\"");
                return Err((n.span(), "guard.name", message));
            }
            text.clone()
        }
        None => protocols.name(protocol).map_or_else(|| protocol.to_string(), str::to_owned),
    };

    let tables = match &e.tables {
        None => None,
        Some(list) => {
            if list.get_ref().is_empty() {
                let message = "an empty list selects no route; leave `tables` out to guard every table".to_owned();
                return Err((list.span(), "guard.tables", message));
            }
            let mut tables = Vec::with_capacity(list.get_ref().len());
            for t in list.get_ref() {
                if *t.get_ref() == 0 {
                    let message = "table 0 is not a routing table; main is 254".to_owned();
                    return Err((t.span(), "guard.tables", message));
                }
                tables.push(*t.get_ref());
            }
            tables.sort_unstable();
            tables.dedup();
            Some(tables)
        }
    };

    let mut prefixes = Vec::new();
    if let Some(list) = &e.prefixes {
        if list.get_ref().is_empty() {
            let message = "an empty list selects no route; leave `prefixes` out to guard every destination, or \
                           write [\"0.0.0.0/0\", \"::/0\"]"
                .to_owned();
            return Err((list.span(), "guard.prefixes", message));
        }
        for p in list.get_ref() {
            let (addr, len) = parse_prefix(p.get_ref()).map_err(|m| (p.span(), "guard.prefixes", m))?;
            prefixes.push(Prefix { addr, len });
        }
    }

    let mut owner = Vec::with_capacity(e.owner.len());
    for o in &e.owner {
        let comm = o.get_ref();
        if comm.is_empty() || comm.len() > MAX_COMM_LEN || comm.contains('\0') {
            let message = format!(
                "{comm:?} is not a process name: owner names are matched against the process's comm, which the \
                 kernel truncates to {MAX_COMM_LEN} characters (`ps -o comm` shows it); use `owner_unit` to \
                 match a longer name by its systemd unit"
            );
            return Err((o.span(), "guard.owner", message));
        }
        owner.push(comm.clone());
    }
    let owner_unit = match &e.owner_unit {
        None => None,
        Some(u) => {
            let unit = u.get_ref();
            if unit.is_empty() || unit.contains(['/', '\0']) {
                let message = format!(
                    "{unit:?} is not a unit: the last component of the owner's cgroup path, e.g. \"bird.service\""
                );
                return Err((u.span(), "guard.owner_unit", message));
            }
            Some(unit.clone())
        }
    };
    if owner.is_empty() && owner_unit.is_none() {
        let message = "a guard needs its routes' owner, to tell the owner's withdrawals from losses: `owner` \
                       (process names, e.g. [\"bird\"]), `owner_unit` (e.g. \"bird.service\") or both"
            .to_owned();
        return Err((e.protocol.span(), "guard", message));
    }

    let guard = GuardConfig {
        name,
        protocol,
        tables,
        prefixes,
        owner,
        owner_unit,
        mode: e.mode,
        unknown_deleter: e.unknown_deleter,
        kernel_cause_grace: e.kernel_cause_grace.map_or(DEFAULT_KERNEL_CAUSE_GRACE, |d| d.0),
    };
    Ok((guard, warning))
}

#[cfg(test)]
mod tests;
