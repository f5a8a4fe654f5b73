use super::*;

fn cfg() -> ReconcileConfig {
    ReconcileConfig {
        interval: Duration::from_secs(30),
        max_repairs_per_route: 3,
        damping_window: Duration::from_secs(60),
        damping_max_backoff: Duration::from_secs(10),
        fight_window: Duration::from_secs(1),
        fight_rounds: 3,
    }
}

/// The default rate net (30 in 60 s), far from what the fight tests do.
fn loose() -> ReconcileConfig {
    ReconcileConfig { max_repairs_per_route: 30, ..cfg() }
}

const MS: Duration = Duration::from_millis(1);

/// Losses at these times (ms), each repaired 1 ms later when allowed and
/// attributed to nobody: only the rate net can hold them back.
fn run(times_ms: &[u64]) -> Vec<Verdict> {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    times_ms
        .iter()
        .map(|ms| {
            let at = t0 + Duration::from_millis(*ms);
            let v = d.on_loss(at, &cfg());
            d.repaired(at, at + MS, &cfg());
            d.attributed(at, None, &cfg());
            v
        })
        .collect()
}

fn ip() -> DeleterId {
    DeleterId { comm: "ip".into(), uid: 0, cgroup: Some("/user.slice".into()) }
}

fn secs(verdicts: &[Verdict]) -> Vec<u64> {
    verdicts
        .iter()
        .map(|v| match v {
            Verdict::Wait { delay, .. } => delay.as_secs(),
            Verdict::RepairNow => 0,
        })
        .collect()
}

#[test]
fn repairs_up_to_the_rate_limit_go_ahead_at_once() {
    assert_eq!(run(&[0, 1000, 2000]), vec![Verdict::RepairNow; 3]);
}

#[test]
fn repairs_past_the_rate_limit_back_off_doubling_up_to_the_cap() {
    let v = run(&[0, 0, 0, 0, 1000, 2000, 3000, 4000, 5000]);
    assert_eq!(secs(&v[3..]), vec![1, 2, 4, 8, 10, 10]);
    assert_eq!(v[3], Verdict::Wait { delay: Duration::from_secs(1), first: true, reason: Reason::Rate });
    assert!(matches!(v[4], Verdict::Wait { first: false, .. }));
}

#[test]
fn a_new_window_allows_repairs_again() {
    let v = run(&[0, 1000, 2000, 61_000, 62_000]);
    assert_eq!(v, vec![Verdict::RepairNow; 5]);
}

#[test]
fn a_calm_window_resets_the_backoff_level() {
    // Damped in the first window, then a window within the limit, then damped again: starts at 1 s.
    let v = run(&[0, 0, 0, 0, 0, 61_000, 122_000, 122_000, 122_000, 122_000]);
    assert_eq!(v[4], Verdict::Wait { delay: Duration::from_secs(2), first: false, reason: Reason::Rate });
    assert_eq!(v[9], Verdict::Wait { delay: Duration::from_secs(1), first: true, reason: Reason::Rate });
}

/// One round of a fight: the loss at `at`, its verdict, its repair 1 ms
/// later (or after the back-off), then the deleter's answer.
fn round(d: &mut Damping, at: Instant, who: Option<DeleterId>) -> (Verdict, Option<Fight>) {
    let v = d.on_loss(at, &loose());
    let repaired_at = match v {
        Verdict::RepairNow => at + MS,
        Verdict::Wait { delay, .. } => at + delay,
    };
    d.repaired(at, repaired_at, &loose());
    (v, d.attributed(at, who, &loose()))
}

#[test]
fn the_same_deleter_within_the_window_of_each_repair_makes_a_fight_after_the_rounds() {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    // The first loss follows no repair: not a round.
    assert_eq!(round(&mut d, t0, Some(ip())), (Verdict::RepairNow, None));
    let mut at = t0;
    for n in 1..=2 {
        at += 10 * MS;
        assert_eq!(round(&mut d, at, Some(ip())), (Verdict::RepairNow, None), "round {n}");
    }
    at += 10 * MS;
    let (v, fight) = round(&mut d, at, Some(ip()));
    assert_eq!(v, Verdict::RepairNow, "the rounds themselves are repaired: their deleter is learnt after");
    assert_eq!(fight, Some(Fight { deleter: ip(), rounds: 3 }));
    assert_eq!(d.fighter(&loose()), Some(&ip()));
    // The next quick loss waits, and the one after longer.
    at += 10 * MS;
    let (v, fight) = round(&mut d, at, Some(ip()));
    assert_eq!(v, Verdict::Wait { delay: Duration::from_secs(1), first: true, reason: Reason::Fight });
    assert_eq!(fight, None, "a fight is named once");
    at += Duration::from_secs(1) + 10 * MS;
    let (v, _) = round(&mut d, at, Some(ip()));
    assert_eq!(v, Verdict::Wait { delay: Duration::from_secs(2), first: false, reason: Reason::Fight });
}

#[test]
fn random_deletions_seconds_after_the_repair_never_make_a_fight() {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    // A soak: `ip` deletes the route about every 20 s, for ten minutes.
    for n in 0..30u64 {
        let at = t0 + Duration::from_millis(n * 20_000 + (n * 7919) % 5000);
        assert_eq!(round(&mut d, at, Some(ip())), (Verdict::RepairNow, None), "loss {n}");
    }
    assert_eq!(d.fighter(&loose()), None);
}

#[test]
fn unknown_deleters_never_make_a_fight() {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    let mut at = t0;
    // Quick losses, by nobody known: only the rate net holds them.
    for n in 0..30 {
        assert_eq!(round(&mut d, at, None), (Verdict::RepairNow, None), "loss {n}");
        at += 10 * MS;
    }
    assert!(matches!(round(&mut d, at, None), (Verdict::Wait { reason: Reason::Rate, .. }, None)));
    assert_eq!(d.fighter(&loose()), None);
}

#[test]
fn an_unknown_or_slow_round_breaks_the_streak() {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    let loose = loose();
    let mut at = t0;
    let mut step = |d: &mut Damping, after: Duration, who: Option<DeleterId>| {
        at += after;
        let v = d.on_loss(at, &loose);
        d.repaired(at, at + MS, &loose);
        (v, d.attributed(at, who, &loose))
    };
    step(&mut d, MS, Some(ip()));
    step(&mut d, 10 * MS, Some(ip()));
    step(&mut d, 10 * MS, Some(ip()));
    // Two rounds, then one by nobody known, one by another tool, one too late.
    step(&mut d, 10 * MS, None);
    step(&mut d, 10 * MS, Some(ip()));
    step(&mut d, 10 * MS, Some(ip()));
    let other = DeleterId { comm: "ip".into(), uid: 1000, cgroup: Some("/user.slice".into()) };
    step(&mut d, 10 * MS, Some(other));
    step(&mut d, 10 * MS, Some(ip()));
    step(&mut d, 10 * MS, Some(ip()));
    step(&mut d, Duration::from_secs(2), Some(ip()));
    assert_eq!(d.fighter(&loose), None);
    // Three rounds in a row after that make one.
    step(&mut d, 10 * MS, Some(ip()));
    step(&mut d, 10 * MS, Some(ip()));
    let (_, fight) = step(&mut d, 10 * MS, Some(ip()));
    assert_eq!(fight.map(|f| f.rounds), Some(3));
}

#[test]
fn answers_out_of_order_count_in_the_order_of_the_losses() {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    let times: Vec<Instant> = (0..5).map(|n| t0 + n * 10 * MS).collect();
    let cfg = loose();
    for at in &times {
        assert_eq!(d.on_loss(*at, &cfg), Verdict::RepairNow);
        d.repaired(*at, *at + MS, &cfg);
    }
    // The last rounds' answers first: nothing counts until the oldest is in.
    for n in (1..5).rev() {
        assert_eq!(d.attributed(times[n], Some(ip()), &cfg), None);
    }
    assert_eq!(d.fighter(&cfg), None);
    let fight = d.attributed(times[0], Some(ip()), &cfg);
    // Four quick rounds: the fight was begun once, at the third.
    assert_eq!(fight, Some(Fight { deleter: ip(), rounds: 3 }));
    assert_eq!(d.fighter(&cfg), Some(&ip()));
}

#[test]
fn a_round_whose_answer_never_comes_is_taken_as_unknown() {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    let loose = loose();
    // The first answer is lost; later ones still count, once it is given up.
    let mut at = t0;
    d.on_loss(at, &loose);
    d.repaired(at, at + MS, &loose);
    let mut fights = Vec::new();
    for _ in 0..MAX_AWAITING + 3 {
        at += 10 * MS;
        d.on_loss(at, &loose);
        d.repaired(at, at + MS, &loose);
        fights.extend(d.attributed(at, Some(ip()), &loose));
    }
    assert_eq!(fights.len(), 1, "{fights:?}");
}

#[test]
fn a_record_is_calm_once_nothing_happened_for_long_enough() {
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    d.on_loss(t0, &cfg());
    d.repaired(t0, t0 + Duration::from_secs(30), &cfg());
    assert!(!d.is_calm(t0 + Duration::from_secs(120), &cfg()));
    assert!(d.is_calm(t0 + Duration::from_secs(150), &cfg()));
}

#[test]
fn a_record_stays_small_and_allocates_nothing_for_a_lone_repair() {
    // A mass flush makes one record per route for a couple of minutes.
    assert!(std::mem::size_of::<Damping>() <= 120, "{}", std::mem::size_of::<Damping>());
    let t0 = Instant::now();
    let mut d = Damping::new(t0);
    d.on_loss(t0, &cfg());
    d.repaired(t0, t0 + MS, &cfg());
    assert!(d.awaiting.rest.capacity() == 0 && d.fighter.is_none());
    d.attributed(t0, Some(ip()), &cfg());
    assert!(d.awaiting.len() == 0 && d.fighter.is_none(), "a first loss is no round: nothing kept");
}
