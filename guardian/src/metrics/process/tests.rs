use super::*;

// A guardian's /proc/PID/stat, its name altered to hold `) (` as a
// process may name itself.
const STAT: &str = "4242 (guard) (x) S 1 4242 4242 0 -1 4194560 1403 0 0 0 250 50 0 0 20 0 9 0 \
                    123400 1073741824 2560 18446744073709551615 1 1 0 0 0 0 0 4096 17642 0 0 0 17 1 0 0 0 0 0";

#[test]
fn stat_fields_are_counted_after_the_last_parenthesis() {
    let stat = parse_stat(STAT, 100, 4096).expect("parses");
    assert_eq!(stat.cpu_seconds, 3.0, "(250 + 50) ticks at 100 Hz");
    assert_eq!(stat.start_after_boot, 1234.0);
    assert_eq!(stat.virtual_bytes, 1 << 30);
    assert_eq!(stat.resident_bytes, 2560 * 4096);
    assert_eq!(parse_stat("4242 (truncated) S 1 2", 100, 4096), None);
}

#[test]
fn max_fds_is_the_soft_limit_and_boot_time_is_btime() {
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                  Max processes             127431               127431               processes \n\
                  Max open files            1024                 524288               files     \n";
    assert_eq!(parse_max_fds(limits), Some(1024));
    assert_eq!(parse_max_fds("Max open files            unlimited            unlimited            files"), None);
    assert_eq!(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1764790000\nprocesses 9\n"), Some(1_764_790_000));
}

#[test]
fn this_process_reports_every_metric() {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(ProcessCollector));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for (name, kind) in NAMES {
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "no {name} {kind} in\n{text}");
    }
    let start = text.lines().find_map(|l| l.strip_prefix("process_start_time_seconds ")).expect("start time");
    let start: f64 = start.parse().expect("a number");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(start <= now + 1.0 && start > now - 86_400.0, "start {start}, now {now}");
}
