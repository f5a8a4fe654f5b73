use super::*;
use std::time::Duration;

fn ms(base: Instant, n: u64) -> Instant {
    base + Duration::from_millis(n)
}

fn drain(q: &mut TimerQueue, now: Instant) -> Vec<(u32, Which)> {
    std::iter::from_fn(|| q.pop_due(now)).collect()
}

#[test]
fn timers_fire_in_deadline_order_and_once() {
    let t = Instant::now();
    let mut q = TimerQueue::new(100);
    q.register(0, 0).unwrap();
    q.register(1, 0).unwrap();
    q.arm(0, Which::Detect, Some(ms(t, 30)));
    q.arm(1, Which::Transmit, Some(ms(t, 10)));
    q.arm(0, Which::Transmit, Some(ms(t, 20)));
    assert_eq!(drain(&mut q, ms(t, 5)), vec![]);
    assert_eq!(drain(&mut q, ms(t, 30)), vec![(1, Which::Transmit), (0, Which::Transmit), (0, Which::Detect)]);
    assert_eq!(drain(&mut q, ms(t, 100)), vec![]);
    assert!(q.is_empty());
}

#[test]
fn a_deadline_moved_later_fires_only_at_the_later_time_without_growing_the_heap() {
    let t = Instant::now();
    let mut q = TimerQueue::new(100);
    q.register(0, 0).unwrap();
    // The detect timer moves on every packet received.
    for n in 0..1000 {
        q.arm(0, Which::Detect, Some(ms(t, 30 + n)));
    }
    assert_eq!(q.len(), 1);
    assert_eq!(drain(&mut q, ms(t, 500)), vec![]);
    assert_eq!(q.next_wakeup(), Some(ms(t, 1029)));
    assert_eq!(drain(&mut q, ms(t, 1029)), vec![(0, Which::Detect)]);
}

#[test]
fn a_deadline_moved_earlier_fires_early_and_only_once() {
    let t = Instant::now();
    let mut q = TimerQueue::new(100);
    q.register(0, 0).unwrap();
    q.arm(0, Which::Transmit, Some(ms(t, 1000)));
    q.arm(0, Which::Transmit, Some(ms(t, 10)));
    assert_eq!(drain(&mut q, ms(t, 10)), vec![(0, Which::Transmit)]);
    assert_eq!(drain(&mut q, ms(t, 2000)), vec![], "the superseded entry does not fire");
}

#[test]
fn a_cleared_timer_does_not_fire() {
    let t = Instant::now();
    let mut q = TimerQueue::new(100);
    q.register(0, 0).unwrap();
    q.arm(0, Which::Detect, Some(ms(t, 10)));
    q.arm(0, Which::Detect, None);
    assert_eq!(drain(&mut q, ms(t, 100)), vec![]);
    assert_eq!(q.deadline(0, Which::Detect), None);
}

#[test]
fn timers_of_a_removed_session_never_fire_for_the_session_that_reuses_its_id() {
    let t = Instant::now();
    let mut q = TimerQueue::new(100);
    q.register(3, 0).unwrap();
    q.arm(3, Which::Detect, Some(ms(t, 10)));
    q.remove(3);
    q.register(3, 1).unwrap();
    q.arm(3, Which::Detect, Some(ms(t, 50)));
    assert_eq!(drain(&mut q, ms(t, 20)), vec![]);
    assert_eq!(drain(&mut q, ms(t, 50)), vec![(3, Which::Detect)]);
}

#[test]
fn registering_past_the_bound_fails_and_existing_timers_keep_running() {
    let t = Instant::now();
    let mut q = TimerQueue::new(2 * ENTRIES_PER_SESSION);
    q.register(0, 0).unwrap();
    q.register(1, 0).unwrap();
    let err = q.register(2, 0).unwrap_err();
    assert_eq!(err, QueueFull { entries: 3 * ENTRIES_PER_SESSION, bound: 2 * ENTRIES_PER_SESSION });
    q.arm(0, Which::Transmit, Some(ms(t, 1)));
    q.arm(1, Which::Transmit, Some(ms(t, 1)));
    assert_eq!(drain(&mut q, ms(t, 1)).len(), 2);
    q.remove(1);
    q.register(2, 0).expect("room again after a removal");
}

#[test]
fn the_heap_stays_near_two_entries_per_session_under_constant_rearming() {
    let t = Instant::now();
    let mut q = TimerQueue::new(100_000);
    let n = 1000u32;
    for id in 0..n {
        q.register(id, 0).unwrap();
    }
    // Simulated 100 ms TX and 300 ms detection over 10 s.
    for step in 0..1000u64 {
        let now = ms(t, step * 10);
        while let Some((id, which)) = q.pop_due(now) {
            if which == Which::Transmit {
                q.arm(id, Which::Transmit, Some(now + Duration::from_millis(100)));
            }
        }
        for id in 0..n {
            if (id as u64 + step).is_multiple_of(10) {
                q.arm(id, Which::Detect, Some(now + Duration::from_millis(300)));
                if q.deadline(id, Which::Transmit).is_none() {
                    q.arm(id, Which::Transmit, Some(now + Duration::from_millis(100)));
                }
            }
        }
        assert!(q.len() <= 2 * n as usize + 10, "{} entries at step {step}", q.len());
    }
}
