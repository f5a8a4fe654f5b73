use super::*;

/// A tiny BTF blob: `int` (4 bytes), `struct inner { int a; int b; }`,
/// `struct outer { int x; union { struct inner in; }; int bf:3 }`.
fn blob() -> Vec<u8> {
    let strings = b"\0int\0inner\0a\0b\0outer\0x\0in\0bf\0colors\0RED\0";
    let s = |name: &str| {
        let pos = strings
            .windows(name.len() + 2)
            .position(|w| w[0] == 0 && &w[1..=name.len()] == name.as_bytes() && w[name.len() + 1] == 0)
            .unwrap();
        (pos + 1) as u32
    };
    let mut t = Vec::new();
    let mut push = |words: &[u32]| words.iter().for_each(|w| t.extend_from_slice(&w.to_le_bytes()));
    // 1: int
    push(&[s("int"), KIND_INT << 24, 4, 32]);
    // 2: struct inner { a @0, b @32 }
    push(&[s("inner"), KIND_STRUCT << 24 | 2, 8, s("a"), 1, 0, s("b"), 1, 32]);
    // 3: anonymous union { inner in @0 }
    push(&[0, KIND_UNION << 24 | 1, 8, s("in"), 2, 0]);
    // 4: struct outer (kind_flag) { x @0, <anon union> @64, bf:3 @128 }
    push(&[s("outer"), 1 << 31 | KIND_STRUCT << 24 | 3, 24, s("x"), 1, 0, 0, 3, 64, s("bf"), 1, 3 << 24 | 128]);
    // 5: enum colors { RED = 0 }
    push(&[s("colors"), KIND_ENUM << 24 | 1, 4, s("RED"), 0]);
    let mut b = Vec::new();
    b.extend_from_slice(&0xeb9fu16.to_le_bytes());
    b.extend_from_slice(&[1, 0]);
    for w in [24u32, 0, t.len() as u32, t.len() as u32, strings.len() as u32] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(&t);
    b.extend_from_slice(strings);
    b
}

#[test]
fn offsets_descend_into_anonymous_members_and_paths() {
    let btf = Btf::parse(&blob()).unwrap();
    assert_eq!(btf.offset("outer", &["x"], 4), Ok(0));
    assert_eq!(btf.offset("outer", &["in"], 8), Ok(8));
    assert_eq!(btf.offset("outer", &["in", "b"], 4), Ok(12));
    assert_eq!(btf.offset("inner", &["b"], 4), Ok(4));
}

#[test]
fn enum_values_are_found_by_name() {
    let btf = Btf::parse(&blob()).unwrap();
    assert!(btf.has_enumerator("colors", "RED"));
    assert!(!btf.has_enumerator("colors", "BLUE"));
    assert!(!btf.has_enumerator("inner", "a"));
}

#[test]
fn bitfields_wrong_sizes_and_missing_names_are_errors() {
    let btf = Btf::parse(&blob()).unwrap();
    assert!(matches!(btf.offset("outer", &["bf"], 4), Err(BtfError::BitField { .. })));
    assert!(matches!(btf.offset("outer", &["x"], 8), Err(BtfError::Size { found: 4, .. })));
    assert!(matches!(btf.offset("outer", &["nope"], 4), Err(BtfError::NoMember { .. })));
    assert!(matches!(btf.offset("nope", &["x"], 4), Err(BtfError::NoStruct(_))));
}

#[test]
fn truncated_or_foreign_blobs_are_rejected() {
    let b = blob();
    for cut in [0, 3, 20, b.len() - 40] {
        assert!(Btf::parse(&b[..cut]).is_err(), "cut at {cut}");
    }
    let mut swapped = b.clone();
    swapped.swap(0, 1);
    assert!(Btf::parse(&swapped).is_err());
}

#[test]
fn running_kernel_has_every_offset() {
    let Ok(data) = std::fs::read(VMLINUX_BTF) else {
        return guardian_test_support::skip::skip(&format!("{VMLINUX_BTF} is not readable"));
    };
    let btf = Btf::parse(&data).unwrap();
    let offsets = btf.kernel_offsets().unwrap();
    assert!(offsets.skb_len > 0 && offsets.sk_protocol > 0 && offsets.task_tgid > 0 && offsets.net_inum > 0);
    // Every kernel with BPF has this helper: the probe's enum is read.
    assert!(btf.has_enumerator("bpf_func_id", "BPF_FUNC_map_lookup_elem"));
}
