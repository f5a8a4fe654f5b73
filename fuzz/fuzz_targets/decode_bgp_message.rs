//! Any bytes as a TCP stream from a BGP peer: `message::frame` cuts it
//! into messages and never panics; each whole message goes through the
//! decoder guardian calls for its type (`decode_open` and `open::negotiate`,
//! `update::decode` as from an external and an internal peer, with and
//! without 4-byte AS, `Received::decode`), which never panic either; and
//! an UPDATE that is not a session reset announces nothing it also
//! withdraws when it was treated as withdraw. The input is fed twice, as
//! is and behind a marker, so that the fuzzer need not find the 16 bytes
//! of 0xff before it reaches the decoders.
#![no_main]

use guardian::bgp::message::{self, Kind};
use guardian::bgp::{open, update};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let local = open::Local::example();
    let marked = [&[0xff; 16][..], data].concat();
    stream(data, &local);
    stream(&marked, &local);
});

fn stream(data: &[u8], local: &open::Local) {
    let mut rest = data;
    while let Ok(Some((kind, len))) = message::frame(rest) {
        let msg = &rest[..len];
        match kind {
            Kind::Open => {
                if let Ok(o) = message::decode_open(msg) {
                    let _ = open::negotiate(&o, local);
                }
            }
            Kind::Update => {
                for (ibgp, asn4) in [(false, true), (true, true), (false, false)] {
                    let peer = update::Peer { remote_as: 65002, ibgp, asn4 };
                    if let Ok(u) = update::decode(msg, peer) {
                        if u.treated_as_withdraw.is_some() {
                            assert!(u.announced.is_empty() && u.attrs.is_none());
                        }
                    }
                }
            }
            Kind::Notification => {
                let _ = message::Received::decode(msg);
            }
            Kind::Keepalive | Kind::RouteRefresh => {}
        }
        rest = &rest[len..];
    }
}
