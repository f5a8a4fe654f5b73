//! Any bytes as a netlink datagram from the kernel (a route dump, a
//! notification, an ack): splitting it into messages, walking attributes
//! and parsing routes and errors never panic, and never read past the
//! message they were given.
#![no_main]

use guardian::kernel::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for message in wire::messages(data) {
        let Ok(message) = message else { break };
        assert!(message.payload.len() <= data.len());
        let _ = wire::parse_route(message.payload);
        let _ = wire::parse_error(message.payload);
        for (_, value) in wire::attributes(message.payload) {
            assert!(value.len() <= message.payload.len());
        }
    }
    // A payload on its own, as the monitor hands one over.
    let _ = wire::parse_route(data);
});
