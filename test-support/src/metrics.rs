//! Fetching and reading Prometheus metrics served inside a namespace.
//!
//! The daemon's metrics listener lives in its namespace's loopback, which
//! the test process cannot reach directly. [`fetch`] runs a tiny HTTP/1.1
//! GET on a thread that joined the namespace (setns); no curl, no helper
//! binary.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::netns::Netns;
use crate::wait;

/// `GET http://<addr><path>` from inside `ns`: (status code, body).
pub fn http_get(ns: &Netns, addr: &str, path: &str) -> Result<(u16, String), String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("bad address {addr}: {e}"))?;
    let path = path.to_owned();
    ns.run_in(move || -> Result<(u16, String), String> {
        let mut s =
            TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
        parse_response(&raw)
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
        Err(e) => Err(e),
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

/// Sum of all samples named `name` (over all label sets); None when there
/// is no such sample.
pub fn sum(text: &str, name: &str) -> Option<f64> {
    let samples: Vec<_> = parse(text).into_iter().filter(|s| s.name == name).collect();
    (!samples.is_empty()).then(|| samples.iter().map(|s| s.value).sum())
}

/// Sum of the samples named `name` whose labels include all of `labels`;
/// None when there is no such sample.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = parse(text)
        .into_iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .collect();
    (!found.is_empty()).then(|| found.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_samples_with_and_without_labels() {
        let text = "# HELP x y\n# TYPE a counter\na_total 3\nb{family=\"ipv4\",noticed=\"event\"} 2\nb{family=\"ipv6\",noticed=\"scan\"} 1.5\nc{v=\"a\\\"b\"} +Inf\n";
        let s = parse(text);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].name, "a_total");
        assert_eq!(s[1].labels["noticed"], "event");
        assert_eq!(s[3].labels["v"], "a\"b");
        assert_eq!(sum(text, "b"), Some(3.5));
        assert_eq!(sum(text, "nope"), None);
    }

    #[test]
    fn reads_chunked_and_plain_responses() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse_response(plain).unwrap(), (200, "hello".into()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (200, "hello".into()));
    }
}
