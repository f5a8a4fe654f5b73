//! Any bytes: `decode` never panics, and a packet it accepts survives
//! encode + decode unchanged.
#![no_main]

use guardian::liveness::packet::doublezero;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = doublezero::decode(data) {
        assert_eq!(doublezero::decode(&doublezero::encode(&decoded)), Ok(decoded));
    }
});
