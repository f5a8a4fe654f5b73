use super::*;

fn with_frr() -> Protocols {
    let mut p = Protocols::built_in();
    p.add("# FRR\n186  bgp\n196  static   # staticd\n201 guardian\n0x10 dhcp\nnonsense\n");
    p
}

#[test]
fn names_come_from_the_built_in_list_and_the_files_in_order() {
    let p = with_frr();
    assert_eq!(p.name(12), Some("bird"));
    assert_eq!(p.name(196), Some("static"));
    assert_eq!(p.name(201), Some("guardian"));
    assert_eq!(p.name(200), None);
    assert_eq!(p.numbers("static"), vec![4, 196], "FRR's staticd shares the name");
}

#[test]
fn resolving_takes_numbers_as_written_and_names_as_ip_does() {
    let p = with_frr();
    assert_eq!(resolve("186", &p), Ok(Resolved { number: 186, also: vec![] }));
    assert_eq!(resolve("0xc", &p), Ok(Resolved { number: 12, also: vec![] }));
    assert_eq!(resolve("bird", &p), Ok(Resolved { number: 12, also: vec![] }));
    assert_eq!(resolve("static", &p), Ok(Resolved { number: 4, also: vec![196] }));
    assert!(resolve("nosuch", &p).unwrap_err().contains("rt_protos"));
    assert!(resolve("300", &p).is_err(), "out of range is no number");
}

#[test]
fn files_are_read_as_iproute2_reads_them() {
    let root = std::env::temp_dir().join(format!("guardian-rt-protos-{}", std::process::id()));
    let (etc, usr) = (root.join("etc"), root.join("usr"));
    std::fs::create_dir_all(etc.join("rt_protos.d")).unwrap();
    std::fs::create_dir_all(usr.join("rt_protos.d")).unwrap();
    std::fs::write(usr.join("rt_protos"), "77 fromusr\n").unwrap();
    std::fs::write(usr.join("rt_protos.d/a.conf"), "78 usrd\n").unwrap();
    std::fs::write(etc.join("rt_protos.d/frr.conf"), "196 static\n78 etcd\n").unwrap();
    std::fs::write(etc.join("rt_protos.d/ignored.txt"), "79 ignored\n").unwrap();
    let p = Protocols::read(&etc, &usr);
    assert_eq!(p.name(77), Some("fromusr"), "no rt_protos in etc: usr's is read");
    assert_eq!(p.name(78), Some("etcd"), "etc's .d comes after usr's");
    assert_eq!(p.name(79), None, "only .conf files");
    assert_eq!(p.numbers("static"), vec![4, 196]);
    std::fs::write(etc.join("rt_protos"), "80 frometc\n").unwrap();
    let p = Protocols::read(&etc, &usr);
    assert_eq!((p.name(80), p.name(77)), (Some("frometc"), None), "etc's rt_protos wins over usr's");
    std::fs::remove_dir_all(&root).unwrap();
}
