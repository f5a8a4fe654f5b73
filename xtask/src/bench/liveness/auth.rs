//! Part 1b: what authentication costs. CPU at 1,000 sessions with
//! meticulous keyed SHA1 on every packet (each side signs every packet it
//! sends and checks every one it receives), against the same guardian pair
//! without it and against a BIRD pair with the same authentication, in one
//! run: rounds of the three, in an order that rotates.

use super::*;

/// What is measured, in the order of the first round.
const RUNS: [(&str, Auth); 3] =
    [("guardian", Auth::MeticulousSha1), ("guardian", Auth::Off), ("BIRD", Auth::MeticulousSha1)];

pub(super) fn compare_auth(ctx: &Ctx) -> Result<Vec<Row>> {
    let n = COMPARE_SESSIONS.min(ctx.max_routes);
    let label = count_label(n);
    println!(
        "    part 1b: CPU at {label} sessions with meticulous keyed SHA1: guardian with it, without it, and BIRD \
         with it, {ROUNDS} rounds"
    );
    let mut runs: [Vec<CpuRun>; 3] = Default::default();
    for round in 0..ROUNDS {
        for k in 0..RUNS.len() {
            let i = (k + round) % RUNS.len();
            let (who, auth) = RUNS[i];
            let r = if who == "BIRD" { bird_cpu(ctx, n, auth)? } else { guardian_cpu(ctx, n, auth)? };
            report_cpu(&format!("round {} {who}, {}", round + 1, auth.label()), &r, n);
            runs[i].push(r);
        }
    }
    let samples = |runs: &[CpuRun]| -> Vec<f64> { runs.iter().flat_map(|r| r.ticks.clone()).collect() };
    let [signed, plain, bird] = [samples(&runs[0]), samples(&runs[1]), samples(&runs[2])];
    let (sm, pm, bm) = (median(&signed), median(&plain), median(&bird));
    let flaps = |runs: &[CpuRun]| -> f64 { runs.iter().map(|r| r.flaps).sum() };
    println!(
        "    meticulous keyed SHA1: guardian {} per daemon, {:.3}x without it ({}), {:.3}x BIRD with it ({})",
        pct(sm),
        sm / pm,
        pct(pm),
        sm / bm,
        pct(bm)
    );
    let detail = json!({
        "sessions": n,
        "interval_ms": INTERVAL_MS,
        "multiplier": MULTIPLIER,
        "rounds": ROUNDS,
        "authentication": "meticulous keyed SHA1, key id 1, on both ends (BIRD: `authentication meticulous keyed sha1` in its interface block)",
        "measured": "utime+stime of each daemon over each window, % of one core, as in part 1",
        "guardian_with_auth_pct_samples": signed.iter().map(|x| x * 100.0).collect::<Vec<_>>(),
        "guardian_without_auth_pct_samples": plain.iter().map(|x| x * 100.0).collect::<Vec<_>>(),
        "bird_with_auth_pct_samples": bird.iter().map(|x| x * 100.0).collect::<Vec<_>>(),
        "flaps": {"guardian_with_auth": flaps(&runs[0]), "guardian_without_auth": flaps(&runs[1]), "bird_with_auth": flaps(&runs[2])},
    });
    let figure = format!(
        "CPU per daemon, {label} sessions at 100 ms x3, meticulous keyed SHA1 (median of {} samples)",
        signed.len()
    );
    Ok(vec![
        Row {
            scenario: SCENARIO,
            figure: figure.clone(),
            value: sm * 100.0,
            unit: "% of a core",
            target: None,
            met: None,
            floor: Some(pm * 100.0),
            floor_what: Some("the same guardian pair without authentication, same run"),
            ratio: Some(sm / pm),
            detail: detail.clone(),
        },
        Row {
            scenario: SCENARIO,
            figure,
            value: sm * 100.0,
            unit: "% of a core",
            target: Some(format!("<= {CPU_RATIO_TARGET}x BIRD (part 1's target)")),
            met: Some(sm / bm <= CPU_RATIO_TARGET),
            floor: Some(bm * 100.0),
            floor_what: Some("BIRD 2 bfd with the same authentication, same run"),
            ratio: Some(sm / bm),
            detail,
        },
    ])
}
