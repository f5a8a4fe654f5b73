//! The bench's topology: two namespaces joined by va/vb, N addresses a side.

use super::*;

// ---------------------------------------------------------------- topology

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    A,
    B,
}

impl Side {
    pub(super) fn dev(self) -> &'static str {
        match self {
            Side::A => "va",
            Side::B => "vb",
        }
    }

    pub(super) fn local(self, i: u32) -> Ipv4Addr {
        match self {
            Side::A => addr_a(i),
            Side::B => addr_b(i),
        }
    }

    pub(super) fn peer(self, i: u32) -> Ipv4Addr {
        match self {
            Side::A => addr_b(i),
            Side::B => addr_a(i),
        }
    }

    /// The destination of the i-th route this side keeps.
    pub(super) fn dst(self, i: u32) -> Ipv4Addr {
        let base: u32 = match self {
            Side::A => 0xc612_0000, // 198.18.0.0
            Side::B => 0xc613_0000, // 198.19.0.0
        };
        Ipv4Addr::from(base + i)
    }
}

/// 10.200.0.1 ..: A's addresses (at most 32,767).
pub(super) fn addr_a(i: u32) -> Ipv4Addr {
    assert!(i < 0x7fff, "at most 32,767 sessions");
    Ipv4Addr::from(0x0ac8_0000 + 1 + i)
}

/// 10.200.128.1 ..: B's addresses.
pub(super) fn addr_b(i: u32) -> Ipv4Addr {
    assert!(i < 0x7fff, "at most 32,767 sessions");
    Ipv4Addr::from(0x0ac8_8000 + 1 + i)
}

/// Two namespaces joined by va/vb, N addresses on each side, permanent
/// neighbour entries for all of them.
pub(super) struct Pair {
    pub(super) a: Netns,
    pub(super) b: Netns,
    pub(super) n: u32,
}

impl Pair {
    pub(super) fn new(ctx: &Ctx, tag: &str, n: u32) -> Result<Pair> {
        let a = Netns::tagged(&format!("{tag}-a"));
        let b = Netns::tagged(&format!("{tag}-b"));
        a.ip(&["link", "add", "va", "address", MAC_A, "type", "veth", "peer", "name", "vb", "address", MAC_B]);
        a.ip(&["link", "set", "vb", "netns", b.name()]);
        a.ip(&["link", "set", "va", "up"]);
        b.ip(&["link", "set", "vb", "up"]);
        for (ns, side, peer_mac) in [(&a, Side::A, MAC_B), (&b, Side::B, MAC_A)] {
            let path = ctx.dir.join(format!("liveness-{tag}-{}.batch", side.dev()));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            for i in 0..n {
                writeln!(out, "addr add {}/16 dev {}", side.local(i), side.dev())?;
            }
            for i in 0..n {
                writeln!(out, "neigh replace {} lladdr {peer_mac} dev {} nud permanent", side.peer(i), side.dev())?;
            }
            out.flush()?;
            drop(out);
            ns.ip(&["-batch", path.to_str().context("non-UTF-8 path")?]);
        }
        Ok(Pair { a, b, n })
    }

    pub(super) fn ns(&self, side: Side) -> &Netns {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}
