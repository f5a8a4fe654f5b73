//! Any bytes: checking an authentication section never panics, whatever
//! the key type; and a packet `decode` accepts, signed by `auth::sign`,
//! verifies and decodes to the same packet with the sequence it was signed
//! with.
#![no_main]

use guardian::liveness::packet::auth::{self, AuthKey, AuthType};
use guardian::liveness::packet::{bfd, Control};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = AuthType::ALL.map(|t| AuthKey::new(t, 1, b"secret").expect("a valid key"));
    for key in &keys {
        let _ = auth::verify(data, key);
    }
    let Ok(decoded) = bfd::decode(data) else { return };
    let length = usize::from(data[3]);
    for key in &keys {
        let _ = auth::verify(&data[..length], key);
        let seq = decoded.my_discriminator ^ u32::from(decoded.detect_mult);
        let mut buf = [0u8; auth::MAX_LEN];
        buf[..bfd::LEN].copy_from_slice(&bfd::encode(&decoded));
        let len = auth::sign(&mut buf, key, seq);
        assert_eq!(auth::verify(&buf[..len], key), Ok(()));
        let again = bfd::decode(&buf[..len]).expect("a signed packet decodes");
        let expected = Control {
            control_plane_independent: false,
            demand: false,
            auth_present: true,
            auth_sequence: Some(seq),
            ..decoded
        };
        assert_eq!(again, expected);
    }
});
