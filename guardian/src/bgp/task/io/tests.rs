use super::cut;
use crate::bgp::message;

#[test]
fn cut_takes_whole_messages_and_keeps_the_rest() {
    let ka = message::keepalive();
    let mut buf = [ka.clone(), ka.clone(), ka[..7].to_vec()].concat();
    let (msgs, error) = cut(&mut buf);
    assert_eq!(msgs, vec![ka.clone(), ka.clone()]);
    assert!(error.is_none());
    assert_eq!(buf, ka[..7].to_vec(), "the partial message waits for the rest");
    buf.extend_from_slice(&ka[7..]);
    let (msgs, _) = cut(&mut buf);
    assert_eq!(msgs, vec![ka]);
    assert!(buf.is_empty());
}

#[test]
fn cut_keeps_the_messages_before_a_framing_error() {
    let ka = message::keepalive();
    let mut bad = ka.clone();
    bad[0] = 0; // the marker is broken: not synchronized
    let mut buf = [ka.clone(), bad].concat();
    let (msgs, error) = cut(&mut buf);
    assert_eq!(msgs, vec![ka]);
    let n = error.expect("the broken marker is an error");
    assert_eq!(message::codes(&n), (1, 1));
}
