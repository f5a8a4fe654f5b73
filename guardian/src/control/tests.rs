use super::*;
use crate::bgp::handle::{BgpCommand, BgpView, NeighborView};

fn neighbor(address: &str) -> NeighborView {
    NeighborView {
        address: address.parse().unwrap(),
        interface: None,
        remote_as: 65002,
        passive: false,
        state: "established".into(),
        uptime_seconds: Some(60),
        peer_id: None,
        last_error: None,
        idle_for_seconds: None,
        graceful_restart: false,
        liveness: false,
        install: true,
        prefixes_received: 0,
        prefixes_accepted: 0,
        prefixes_filtered: 0,
        prefixes_installed: 0,
        prefixes_stale: 0,
        prefixes_unresolvable: 0,
        updates_received: 0,
    }
}

fn configured(addresses: &[&str]) -> BgpView {
    BgpView {
        enabled: true,
        local_as: Some(65001),
        router_id: Some("192.0.2.1".parse().unwrap()),
        table: None,
        neighbors: addresses.iter().map(|a| neighbor(a)).collect(),
    }
}

/// A BGP task that shows `view` and resets whichever of `resettable`
/// is asked for (all of them without a neighbor).
fn bgp_task(view: BgpView, resettable: &[&str]) -> BgpHandle {
    let resettable: Vec<IpAddr> = resettable.iter().map(|a| a.parse().unwrap()).collect();
    let (tx, mut rx) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            match command {
                BgpCommand::View(reply) => {
                    let _ = reply.send(view.clone());
                }
                BgpCommand::Reset { neighbor, reply } => {
                    let n = resettable.iter().filter(|a| neighbor.is_none_or(|n| n == **a)).count();
                    let _ = reply.send(n);
                }
                BgpCommand::Configure { done, .. } => {
                    let _ = done.send(());
                }
            }
        }
    });
    BgpHandle::new(tx)
}

async fn answer(response: Response) -> (StatusCode, serde_json::Value) {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn addr(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

#[tokio::test]
async fn reset_without_a_bgp_section_is_a_configuration_error() {
    let bgp = bgp_task(BgpView::default(), &[]);
    for neighbor in [None, addr("192.0.2.2")] {
        let (status, body) = answer(reset_neighbors(&bgp, neighbor).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "BGP is not configured: add a [bgp] section (docs/bgp.md)");
    }
}

#[tokio::test]
async fn reset_of_an_address_no_neighbor_has_is_not_found() {
    let bgp = bgp_task(configured(&["192.0.2.2"]), &["192.0.2.2"]);
    let (status, body) = answer(reset_neighbors(&bgp, addr("192.0.2.9")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "no BGP neighbor 192.0.2.9");
}

#[tokio::test]
async fn reset_of_a_neighbor_a_reload_just_removed_is_not_found() {
    let bgp = bgp_task(configured(&["192.0.2.2"]), &[]);
    let (status, body) = answer(reset_neighbors(&bgp, addr("192.0.2.2")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "no BGP neighbor 192.0.2.2");
}

#[tokio::test]
async fn reset_answers_how_many_neighbors_were_reset() {
    let both = ["192.0.2.2", "2001:db8::2"];
    let bgp = bgp_task(configured(&both), &both);
    let (status, body) = answer(reset_neighbors(&bgp, addr("2001:db8::2")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let one: BgpResetReport = serde_json::from_value(body).unwrap();
    assert_eq!(one, BgpResetReport { neighbor: addr("2001:db8::2"), neighbors: 1 });
    let (status, body) = answer(reset_neighbors(&bgp, None).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, serde_json::json!({ "neighbor": null, "neighbors": 2 }));
}

#[tokio::test]
async fn reset_while_the_bgp_task_is_gone_says_guardian_is_shutting_down() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let (status, _) = answer(reset_neighbors(&BgpHandle::new(tx), None).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn a_neighbor_in_the_path_must_be_an_ip_address() {
    assert_eq!(address("fe80::2").ok(), addr("fe80::2"));
    assert_eq!(address("peer-1"), Err("\"peer-1\" is not an IP address".to_owned()));
}
