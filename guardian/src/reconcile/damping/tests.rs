use super::*;

fn cfg() -> ReconcileConfig {
    ReconcileConfig {
        interval: Duration::from_secs(30),
        max_repairs_per_route: 3,
        damping_window: Duration::from_secs(60),
        damping_max_backoff: Duration::from_secs(10),
    }
}

fn run(times: &[u64]) -> Vec<Verdict> {
    let t0 = Instant::now();
    let mut state = None;
    times
        .iter()
        .map(|s| {
            let (d, v) = on_loss(state, t0 + Duration::from_secs(*s), &cfg());
            state = Some(d);
            v
        })
        .collect()
}

#[test]
fn repairs_up_to_the_limit_go_ahead_at_once() {
    assert_eq!(run(&[0, 1, 2]), vec![Verdict::RepairNow; 3]);
}

#[test]
fn repairs_past_the_limit_back_off_doubling_up_to_the_cap() {
    let v = run(&[0, 0, 0, 0, 1, 2, 3, 4, 5]);
    let delays: Vec<u64> = v[3..]
        .iter()
        .map(|v| match v {
            Verdict::Wait { delay, .. } => delay.as_secs(),
            Verdict::RepairNow => 0,
        })
        .collect();
    assert_eq!(delays, vec![1, 2, 4, 8, 10, 10]);
    assert_eq!(v[3], Verdict::Wait { delay: Duration::from_secs(1), first: true });
    assert!(matches!(v[4], Verdict::Wait { first: false, .. }));
}

#[test]
fn a_new_window_allows_repairs_again() {
    let v = run(&[0, 1, 2, 61, 62]);
    assert_eq!(v, vec![Verdict::RepairNow; 5]);
}

#[test]
fn a_calm_window_resets_the_backoff_level() {
    // Damped in the first window, then a window within the limit, then damped again: starts at 1 s.
    let v = run(&[0, 0, 0, 0, 0, 61, 122, 122, 122, 122]);
    assert_eq!(v[4], Verdict::Wait { delay: Duration::from_secs(2), first: false });
    assert_eq!(v[9], Verdict::Wait { delay: Duration::from_secs(1), first: true });
}
