use super::*;

#[test]
fn failures_are_named_and_forced_choices_shown() {
    let o = Outcome {
        kernel: "5.10.0-32-amd64".into(),
        variant: "hook=consume_skb walk=bounded netns=inode memlock=rlimit".into(),
        missing: "bpf_loop".into(),
        passed: vec!["a".into()],
        failed: vec!["b".into()],
        unfinished: false,
    };
    let table = markdown(&[("Debian 11", Some("hook=consume_skb"), o)]);
    assert!(table.contains("| 5.10.0-32-amd64 | Debian 11 | `hook=consume_skb walk=bounded netns=inode memlock=rlimit` (forced hook=consume_skb) | 1 passed, 1 failed: b | bpf_loop |"), "{table}");
}
