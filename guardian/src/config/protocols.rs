//! Route protocol names as this system spells them: iproute2's built-in
//! names, then its `rt_protos` file and `rt_protos.d/*.conf` (FRR, for one,
//! adds `196 static` there). Read from the system, not from a list of ours,
//! so `route_protocol` and guards name protocols as `ip route` shows them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The names iproute2 knows without any file (lib/rt_names.c).
const BUILT_IN: &[(u8, &str)] = &[
    (0, "unspec"),
    (1, "redirect"),
    (2, "kernel"),
    (3, "boot"),
    (4, "static"),
    (8, "gated"),
    (9, "ra"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "bird"),
    (13, "dnrouted"),
    (14, "xorp"),
    (15, "ntk"),
    (16, "dhcp"),
    (18, "keepalived"),
    (42, "babel"),
    (99, "openr"),
    (186, "bgp"),
    (187, "isis"),
    (188, "ospf"),
    (189, "rip"),
    (192, "eigrp"),
];

/// Where iproute2 looks: `/etc` first, its packaged defaults second.
const ETC: &str = "/etc/iproute2";
const USR: &str = "/usr/share/iproute2";

/// One name per number (a later file overrides an earlier one, as in
/// iproute2), and the files they came from for error messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protocols {
    names: BTreeMap<u8, String>,
}

impl Protocols {
    /// The system's names, read once per process.
    pub fn system() -> &'static Protocols {
        static SYSTEM: OnceLock<Protocols> = OnceLock::new();
        SYSTEM.get_or_init(|| Protocols::read(Path::new(ETC), Path::new(USR)))
    }

    /// iproute2's order: built-in names, then `rt_protos` from `etc` (or,
    /// when it has none, from `usr`), then `rt_protos.d/*.conf` of `usr` and
    /// `etc` in name order. Unreadable files are skipped, as `ip` does.
    pub fn read(etc: &Path, usr: &Path) -> Protocols {
        let mut p = Protocols::built_in();
        let main = [etc.join("rt_protos"), usr.join("rt_protos")];
        if let Some(text) = main.iter().find_map(|f| std::fs::read_to_string(f).ok()) {
            p.add(&text);
        }
        for dir in [usr, etc] {
            for file in conf_files(&dir.join("rt_protos.d")) {
                if let Ok(text) = std::fs::read_to_string(&file) {
                    p.add(&text);
                }
            }
        }
        p
    }

    pub fn built_in() -> Protocols {
        Protocols { names: BUILT_IN.iter().map(|(n, name)| (*n, (*name).to_owned())).collect() }
    }

    /// Adds the `number name` lines of one file.
    pub fn add(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(number), Some(name)) = (words.next(), words.next()) else { continue };
            if let Some(n) = parse_number(number) {
                self.names.insert(n, name.to_owned());
            }
        }
    }

    /// The name `ip route` shows for `number`.
    pub fn name(&self, number: u8) -> Option<&str> {
        self.names.get(&number).map(String::as_str)
    }

    /// Every number called `name`, lowest first (`ip` takes the lowest).
    pub fn numbers(&self, name: &str) -> Vec<u8> {
        self.names.iter().filter(|(_, n)| *n == name).map(|(number, _)| *number).collect()
    }
}

/// A protocol as written: `bird`, `"186"` or `0x0c`.
fn parse_number(text: &str) -> Option<u8> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn conf_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "conf")).collect();
    files.sort();
    files
}

/// A protocol named in the file, resolved: its number, and every other
/// number the name also stands for (for a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub number: u8,
    pub also: Vec<u8>,
}

/// Resolves a number or a name; the error says what the name could be.
pub fn resolve(written: &str, protocols: &Protocols) -> Result<Resolved, String> {
    if let Some(n) = parse_number(written) {
        return Ok(Resolved { number: n, also: Vec::new() });
    }
    match protocols.numbers(written).split_first() {
        Some((first, rest)) => Ok(Resolved { number: *first, also: rest.to_vec() }),
        None => Err(format!(
            "unknown route protocol {written:?}: not a number 0-255 and not a name in this system's rt_protos \
             (/etc/iproute2/rt_protos, rt_protos.d/*.conf)"
        )),
    }
}

#[cfg(test)]
mod tests;
