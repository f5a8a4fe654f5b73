use super::*;
use crate::messages::api::RouteCounts;

#[test]
fn the_summary_names_routes_sessions_and_attribution_in_one_line() {
    let mut status = Status { ready: true, ..Default::default() };
    status.routes = RouteCounts { desired: 5, installed: 3, withdrawn: 2, ..Default::default() };
    assert_eq!(
        summary(&status, (1, 2), "ebpf"),
        "3/5 routes installed, 2 withdrawn by liveness; 1/2 liveness sessions up; attribution ebpf"
    );
    status.routes = RouteCounts { desired: 1, installed: 1, ..Default::default() };
    assert_eq!(summary(&status, (0, 0), "netlink-portid"), "1/1 routes installed; attribution netlink-portid");
}
