//! Fetching and reading Prometheus metrics served inside a namespace.
//!
//! The daemon's metrics listener lives in its namespace's loopback, which
//! the test process cannot reach directly. [`http_get`] runs a tiny
//! HTTP/1.1 GET on a thread that joined the namespace (setns); no curl, no
//! helper binary. [`parse`] reads the text exposition format into
//! [`Sample`]s; [`total`], [`value`] and [`sum`] add up the series asked for.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::netns::Netns;
use crate::wait;

/// `GET http://<addr><path>` from inside `ns`: (status code, body). `Err`
/// when nothing answers (yet) or the answer is no HTTP.
pub fn http_get(ns: &Netns, addr: &str, path: &str) -> io::Result<(u16, String)> {
    let addr: SocketAddr = addr.parse().map_err(|e| io::Error::other(format!("bad address {addr}: {e}")))?;
    let context = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{what} http://{addr}{path}: {e}"));
    ns.run_in(|| {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| context("connect", e))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).map_err(|e| context("write", e))?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| context("read", e))?;
        parse_response(&raw).map_err(io::Error::other)
    })
}

fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("no header end in response: {text:?}"))?;
    let status_line = head.lines().next().unwrap_or_default();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(body)? } else { body.to_owned() };
    Ok((code, body))
}

fn dechunk(mut body: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").ok_or("truncated chunk size")?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size {size:?}: {e}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or("truncated chunk")?;
        out.push_str(chunk);
        body = rest.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

/// The metrics text from `http://<addr>/metrics` inside `ns`, retried until
/// it answers 200 (the listener may not be up yet).
pub fn fetch(ns: &Netns, addr: &str) -> String {
    wait::until(&format!("metrics at http://{addr}/metrics"), wait::SHORT, || match http_get(ns, addr, "/metrics") {
        Ok((200, body)) => Ok(body),
        Ok((code, body)) => Err(format!("HTTP {code}: {body}")),
        Err(e) => Err(e.to_string()),
    })
}

/// One sample line of the text exposition format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the sample lines (comments skipped). Panics on a line it cannot
/// read, since the format is part of the contract.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_line(l).unwrap_or_else(|| panic!("unreadable metrics line: {l:?}")))
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            r = r.trim_start_matches([',', ' ']);
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = r.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break i,
                    c => value.push(c),
                }
            };
            labels.insert(key.trim().to_owned(), value);
            r = &after[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample { name, labels, value })
}

/// Sum of the samples named `name` whose labels include all of `labels`
/// (whatever their order and the other labels); None when there is no
/// such sample.
pub fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .collect();
    (!found.is_empty()).then(|| found.iter().sum())
}

/// [`total`] of the samples in `text`.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    total(&parse(text), name, labels)
}

/// Sum of all samples named `name` (over all label sets); None when there
/// is no such sample.
pub fn sum(text: &str, name: &str) -> Option<f64> {
    value(text, name, &[])
}

#[cfg(test)]
mod tests;
