use super::*;

#[test]
fn short_logs_are_kept_whole() {
    assert_eq!(truncate_log("0: r1 = 0\nok\n", 100), "0: r1 = 0\nok");
}

#[test]
fn long_logs_keep_their_tail() {
    let log: String = (0..10_000).map(|i| format!("{i}: insn\n")).collect();
    let cut = truncate_log(&log, 200);
    assert!(cut.len() < 300, "{}", cut.len());
    assert!(cut.starts_with("[... "));
    assert!(cut.ends_with("9999: insn"));
}

#[test]
fn truncation_respects_char_boundaries() {
    let log = "é".repeat(1000);
    let cut = truncate_log(&log, 101);
    assert!(cut.ends_with('é'));
}

#[test]
fn ring_sizes_are_powers_of_two_of_pages() {
    assert_eq!(ring_size(0), 4096);
    assert_eq!(ring_size(16 << 20), 16 << 20);
    assert_eq!(ring_size((16 << 20) + 1), 32 << 20);
}

#[test]
fn the_embedded_object_holds_every_variant_and_map() {
    let obj = aya_obj_names(OBJECT);
    let handlers = PROG_HANDLERS.iter().map(|(name, _)| *name);
    let names = [PROG_NETLINK, PROG_NETLINK_BOUNDED, PROG_IOCTL, MAP_RECORDS, MAP_DROPS, GLOBAL_OFFSETS, GLOBAL_FILTER];
    for name in names.into_iter().chain(handlers) {
        assert!(obj.iter().any(|n| n == name), "{name} missing from the object");
    }
}

/// Symbol names in the ELF object (a small reader: the symbol table is
/// all this test needs).
fn aya_obj_names(elf: &[u8]) -> Vec<String> {
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    assert_eq!(&elf[..4], b"\x7fELF");
    let shoff = u64_at(0x28);
    let shentsize = u16_at(0x3a);
    let shnum = u16_at(0x3c);
    let section = |i: usize| shoff + i * shentsize;
    let mut names = Vec::new();
    for i in 0..shnum {
        let sh = section(i);
        if u32_at(sh + 4) != 2 {
            continue; // SHT_SYMTAB
        }
        let (off, size, link, entsize) = (u64_at(sh + 0x18), u64_at(sh + 0x20), u32_at(sh + 0x28), u64_at(sh + 0x38));
        let strtab = u64_at(section(link) + 0x18);
        for sym in (off..off + size).step_by(entsize) {
            let name = strtab + u32_at(sym);
            let end = elf[name..].iter().position(|&c| c == 0).unwrap();
            names.push(String::from_utf8_lossy(&elf[name..name + end]).into_owned());
        }
    }
    names
}
