//! Offsets of the non-UAPI kernel fields the eBPF programs read, from the
//! running kernel's BTF (`/sys/kernel/btf/vmlinux`).
//!
//! aya parses BTF for its own relocations but keeps the type graph private,
//! and the pure-Rust crate that exposes one (btf-rs) is LGPL, which
//! `deny.toml` keeps out (docs/architecture.md, "Dependencies"), so this is
//! a small reader of the format (kernel `Documentation/bpf/btf.rst`):
//! a header, a type section (type ids from 1, each a 12-byte `btf_type` and
//! kind-specific trailing data) and a string section. Only what offsets need
//! is kept: struct/union members and enough of every other kind to skip it
//! and to resolve sizes through typedefs and modifiers.

use std::collections::HashMap;

use guardian_common::KernelOffsets;

/// Where the running kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfError {
    #[error("BTF is truncated or malformed: {0}")]
    Malformed(&'static str),
    #[error("BTF has no struct {0}")]
    NoStruct(String),
    #[error("BTF struct {strukt} has no member {member}")]
    NoMember { strukt: String, member: String },
    #[error("BTF member {strukt}.{member} is a bit-field or not byte-aligned")]
    BitField { strukt: String, member: String },
    #[error("BTF member {strukt}.{member} is {found} bytes, expected {expected}")]
    Size { strukt: String, member: String, found: u32, expected: u32 },
}

const SHORT: BtfError = BtfError::Malformed("type record cut short");

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Debug, Clone)]
struct Member {
    name: u32,
    ty: u32,
    /// Bit offset (the low 24 bits when the parent's kind_flag is set).
    bit_offset: u32,
    bitfield_size: u32,
}

#[derive(Debug, Clone)]
struct Type {
    name: u32,
    kind: u32,
    /// `size` for INT/STRUCT/UNION/ENUM, `type` for PTR/TYPEDEF/modifiers.
    size_or_type: u32,
    members: Vec<Member>,
    /// ARRAY: element type and count.
    array: Option<(u32, u32)>,
    /// ENUM: the names (string offsets) of its values.
    enumerators: Vec<u32>,
}

/// The parsed type graph of one BTF blob.
pub struct Btf {
    types: Vec<Type>, // index = type id; 0 is `void`
    strings: Vec<u8>,
    structs: HashMap<String, u32>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Btf {
    /// Parses a little-endian BTF blob.
    pub fn parse(b: &[u8]) -> Result<Self, BtfError> {
        let bad = BtfError::Malformed;
        if u16_at(b, 0) != Some(0xeb9f) {
            return Err(bad("bad magic (not little-endian BTF)"));
        }
        let hdr_len = u32_at(b, 4).ok_or(bad("short header"))? as usize;
        let field = |i: usize| u32_at(b, 8 + 4 * i).map(|v| v as usize).ok_or(bad("short header"));
        let (type_off, type_len, str_off, str_len) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off).ok_or(bad("section offset overflows"))?;
            let end = start.checked_add(len).ok_or(bad("section length overflows"))?;
            b.get(start..end).ok_or(bad("section past the end"))
        };
        let types_b = section(type_off, type_len)?;
        let strings = section(str_off, str_len)?.to_vec();

        let mut types =
            vec![Type { name: 0, kind: 0, size_or_type: 0, members: Vec::new(), array: None, enumerators: Vec::new() }];
        let mut at = 0;
        while at < types_b.len() {
            let name = u32_at(types_b, at).ok_or(SHORT)?;
            let info = u32_at(types_b, at + 4).ok_or(SHORT)?;
            let size_or_type = u32_at(types_b, at + 8).ok_or(SHORT)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let mut ty = Type { name, kind, size_or_type, members: Vec::new(), array: None, enumerators: Vec::new() };
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => {
                    let elem = u32_at(types_b, at).ok_or(SHORT)?;
                    let n = u32_at(types_b, at + 8).ok_or(SHORT)?;
                    ty.array = Some((elem, n));
                    12
                }
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = at + 12 * i;
                        let offset = u32_at(types_b, m + 8).ok_or(SHORT)?;
                        let (bit_offset, bitfield_size) =
                            if kind_flag { (offset & 0x00ff_ffff, offset >> 24) } else { (offset, 0) };
                        ty.members.push(Member {
                            name: u32_at(types_b, m).ok_or(SHORT)?,
                            ty: u32_at(types_b, m + 4).ok_or(SHORT)?,
                            bit_offset,
                            bitfield_size,
                        });
                    }
                    12 * vlen
                }
                KIND_ENUM => {
                    for i in 0..vlen {
                        ty.enumerators.push(u32_at(types_b, at + 8 * i).ok_or(SHORT)?);
                    }
                    8 * vlen
                }
                KIND_FUNC_PROTO => 8 * vlen,
                KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                0 | 20.. => return Err(bad("unknown type kind")),
                _ => 0,
            };
            at += extra;
            if at > types_b.len() {
                return Err(SHORT);
            }
            types.push(ty);
        }
        let mut btf = Btf { types, strings, structs: HashMap::new() };
        for id in 1..btf.types.len() {
            let t = &btf.types[id];
            if t.kind == KIND_STRUCT && t.name != 0 {
                let name = btf.name(t.name).to_owned();
                // Keep the first complete definition.
                btf.structs.entry(name).or_insert(id as u32);
            }
        }
        Ok(btf)
    }

    fn name(&self, off: u32) -> &str {
        let rest = self.strings.get(off as usize..).unwrap_or_default();
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    fn ty(&self, id: u32) -> Option<&Type> {
        self.types.get(id as usize)
    }

    /// Follows typedefs and modifiers to the underlying type id.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.ty(id) {
                Some(t)
                    if matches!(t.kind, KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG) =>
                {
                    id = t.size_or_type
                }
                _ => break,
            }
        }
        id
    }

    fn size_of(&self, id: u32) -> Option<u32> {
        let t = self.ty(self.resolve(id))?;
        match t.kind {
            KIND_PTR => Some(8),
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 => Some(t.size_or_type),
            KIND_ARRAY => {
                let (elem, n) = t.array?;
                self.size_of(elem)?.checked_mul(n)
            }
            _ => None,
        }
    }

    /// Finds `name` among the members of struct/union `id`, descending into
    /// anonymous struct/union members. Returns (bit offset, member).
    fn find_member(&self, id: u32, name: &str) -> Option<(u32, &Member)> {
        let t = self.ty(self.resolve(id))?;
        if t.kind != KIND_STRUCT && t.kind != KIND_UNION {
            return None;
        }
        for m in &t.members {
            if m.name != 0 && self.name(m.name) == name {
                return Some((m.bit_offset, m));
            }
        }
        for m in t.members.iter().filter(|m| m.name == 0) {
            if let Some((off, found)) = self.find_member(m.ty, name) {
                return Some((m.bit_offset + off, found));
            }
        }
        None
    }

    /// Byte offset of `path` (e.g. `["__sk_common", "skc_net", "net"]`) in
    /// `struct strukt`, checking that the last member is `size` bytes.
    pub fn offset(&self, strukt: &str, path: &[&str], size: u32) -> Result<u32, BtfError> {
        self.offset_sized(strukt, path, &[size])
    }

    /// [`Btf::offset`] for a member whose size differs between kernels.
    pub fn offset_sized(&self, strukt: &str, path: &[&str], sizes: &[u32]) -> Result<u32, BtfError> {
        let mut id = *self.structs.get(strukt).ok_or_else(|| BtfError::NoStruct(strukt.to_owned()))?;
        let mut bits = 0u32;
        let dotted = || path.join(".");
        let mut member_ty = id;
        for name in path {
            let (off, m) = self
                .find_member(id, name)
                .ok_or_else(|| BtfError::NoMember { strukt: strukt.to_owned(), member: dotted() })?;
            if m.bitfield_size != 0 || off % 8 != 0 {
                return Err(BtfError::BitField { strukt: strukt.to_owned(), member: dotted() });
            }
            bits += off;
            member_ty = m.ty;
            id = m.ty;
        }
        let found = self.size_of(member_ty).unwrap_or(0);
        if !sizes.contains(&found) {
            return Err(BtfError::Size { strukt: strukt.to_owned(), member: dotted(), found, expected: sizes[0] });
        }
        Ok(bits / 8)
    }

    /// Whether `enum name` has a value called `value`: how the kernel says
    /// which BPF helpers it has (`enum bpf_func_id`), without loading a
    /// program to find out.
    pub fn has_enumerator(&self, name: &str, value: &str) -> bool {
        self.types
            .iter()
            .filter(|t| t.kind == KIND_ENUM && self.name(t.name) == name)
            .any(|t| t.enumerators.iter().any(|&v| self.name(v) == value))
    }

    /// Every offset the programs need. `net_cookie` is `u32::MAX` where the
    /// kernel has none (before 5.7): the programs then identify namespaces
    /// by inode number only.
    pub fn kernel_offsets(&self) -> Result<KernelOffsets, BtfError> {
        let skb_cb = self.offset("sk_buff", &["cb"], 48)?;
        let portid = self.offset("netlink_skb_parms", &["portid"], 4)?;
        Ok(KernelOffsets {
            skb_sk: self.offset("sk_buff", &["sk"], 8)?,
            skb_head: self.offset("sk_buff", &["head"], 8)?,
            skb_data: self.offset("sk_buff", &["data"], 8)?,
            skb_len: self.offset("sk_buff", &["len"], 4)?,
            skb_nl_portid: skb_cb + portid,
            sk_family: self.offset("sock", &["__sk_common", "skc_family"], 2)?,
            sk_protocol: self.offset("sock", &["sk_protocol"], 2)?,
            sk_net: self.offset("sock", &["__sk_common", "skc_net", "net"], 8)?,
            // `u32` until 6.x, then `unsigned long` used with test_bit(): on a
            // little-endian machine the low 32 bits sit at the same offset.
            nlk_flags: self.offset_sized("netlink_sock", &["flags"], &[4, 8])?,
            net_cookie: self.offset("net", &["net_cookie"], 8).unwrap_or(u32::MAX),
            net_inum: self.offset("net", &["ns", "inum"], 4)?,
            task_real_parent: self.offset("task_struct", &["real_parent"], 8)?,
            task_tgid: self.offset("task_struct", &["tgid"], 4)?,
            task_mm: self.offset("task_struct", &["mm"], 8)?,
            task_nsproxy: self.offset("task_struct", &["nsproxy"], 8)?,
            nsproxy_net_ns: self.offset("nsproxy", &["net_ns"], 8)?,
            mm_arg_start: self.offset("mm_struct", &["arg_start"], 8)?,
            mm_arg_end: self.offset("mm_struct", &["arg_end"], 8)?,
        })
    }
}

#[cfg(test)]
mod tests;
