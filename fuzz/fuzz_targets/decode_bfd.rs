//! Any bytes: `decode` never panics, and a packet it accepts survives
//! encode + decode unchanged, except C and D, which guardian never sends,
//! and the authentication section, which `encode` leaves to `auth::sign`.
#![no_main]

use guardian::liveness::packet::{bfd, Control};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = bfd::decode(data) {
        let sent = Control {
            control_plane_independent: false,
            demand: false,
            auth_present: false,
            auth_sequence: None,
            ..decoded
        };
        assert_eq!(bfd::decode(&bfd::encode(&decoded)), Ok(sent));
    }
});
