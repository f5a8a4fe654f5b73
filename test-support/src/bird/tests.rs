use super::*;

#[test]
fn bfd_sessions_are_parsed_from_birdc_output() {
    let text = "BIRD 2.0.12 ready.\nbfd1:\n\
        IP address                Interface  State      Since         Interval  Timeout\n\
        192.0.2.1                 vb         Up         13:47:28.420    0.100    0.300\n\
        2001:db8::1               vb         Down       2026-11-25      1.000    0.000\n";
    let sessions = parse_bfd_sessions(text);
    assert_eq!(
        sessions,
        vec![
            BfdSession {
                address: "192.0.2.1".into(),
                interface: "vb".into(),
                state: "Up".into(),
                interval: 0.1,
                timeout: 0.3
            },
            BfdSession {
                address: "2001:db8::1".into(),
                interface: "vb".into(),
                state: "Down".into(),
                interval: 1.0,
                timeout: 0.0
            },
        ]
    );
    assert!(parse_bfd_sessions("BIRD 2.0.12 ready.\nbfd1:\nIP address  Interface  State\n").is_empty());
}
