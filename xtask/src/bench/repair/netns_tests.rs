use super::*;

#[test]
fn the_reflex_floor_repairs_each_deleted_route_and_the_dump_counts_them() {
    guardian_test_support::require_netns!();
    let ns = Netns::tagged_with_link("unit-reflex");
    let dir = std::env::temp_dir().join(format!("xtask-reflex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let batch = dir.join("routes.batch");
    config::write_ip_batch(&batch, 0, ROUTES).unwrap();
    ns.ip(&["-batch", batch.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();

    let dumper = ns.run_in(|| netlink::open(&[], 0)).unwrap();
    netlink::set_recv_timeout(&dumper, Duration::from_secs(5)).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    assert_eq!(netlink::count_dump(&dumper, TABLE, 1, &mut buf).unwrap(), ROUTES as usize);

    let stop = Arc::new(AtomicBool::new(false));
    let oif = ns.ifindex(config::DEVICE);
    let reflex = Reflex::start(&ns, oif, Arc::clone(&stop)).unwrap();
    let mut side = Side::open(&ns, TABLE, Arc::clone(&stop)).unwrap();
    for i in 0..20 {
        let route =
            Route { dst: config::nth_destination(i), dst_len: 32, table: TABLE, gateway: None, oif: None, protocol: 0 };
        side.delete_and_time(&route, i, REPAIR_TIMEOUT).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(reflex.join().unwrap(), 20);
    assert_eq!((side.samples_ms.len(), side.missed), (20, 0));
    eprintln!("reflex: p50 {} ms, max {} ms", num(median(&side.samples_ms)), num(min_max(&side.samples_ms).1));
    assert_eq!(netlink::count_dump(&dumper, TABLE, 2, &mut buf).unwrap(), ROUTES as usize);
    let name = ns.name().to_owned();
    drop(ns);
    assert!(!std::path::Path::new("/run/netns").join(name).exists());
}
