use super::*;

#[test]
fn forced_choices_parse_in_any_order_and_subset() {
    let f: Force = "netns=inode, walk=bounded".parse().unwrap();
    assert_eq!(f, Force { walk: Some(Walk::Bounded), netns: Some(NetnsBy::Inode), ..Force::default() });
    assert_eq!("".parse::<Force>(), Ok(Force::default()));
    let all: Force = "hook=consume_skb,walk=bpf_loop,netns=cookie,memlock=rlimit".parse().unwrap();
    assert_eq!(all.hook, Some(Hook::ConsumeSkb));
    assert_eq!(all.memlock, Some(Memlock::Rlimit));
}

#[test]
fn unknown_choices_are_named_in_the_error() {
    assert_eq!("walk=forever".parse::<Force>(), Err(ForceError("walk=forever".into())));
    assert_eq!("bounded".parse::<Force>(), Err(ForceError("bounded".into())));
}

#[test]
fn variants_print_as_one_line_of_choices() {
    let v = Variant { hook: Hook::ConsumeSkb, walk: Walk::Bounded, netns: NetnsBy::Inode, memlock: Memlock::Rlimit };
    assert_eq!(v.to_string(), "hook=consume_skb walk=bounded netns=inode memlock=rlimit");
    let v = Variant { hook: Hook::Fentry, ..v };
    assert_eq!(v.to_string(), "hook=fentry netns=inode memlock=rlimit");
}
