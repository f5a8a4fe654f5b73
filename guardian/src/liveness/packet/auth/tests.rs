use super::*;
use crate::liveness::packet::{bfd, Control, State};

/// BIRD 2.0.12's first two packets to a new neighbor with `authentication
/// meticulous keyed sha1; password "secret" { id 1; }` (captured on a veth
/// pair here): Down, Detect Mult 5, sequence 0xe5206438 then 0xe5206439.
const BIRD_METICULOUS_SHA1: [[u8; 52]; 2] = [
    [
        0x20, 0x44, 0x05, 0x34, 0x9a, 0x14, 0xb1, 0x6a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x01,
        0x86, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x05, 0x1c, 0x01, 0x00, 0xe5, 0x20, 0x64, 0x38, 0xdc, 0xeb, 0xd5, 0x46,
        0x07, 0x98, 0x91, 0x3c, 0x08, 0x09, 0x23, 0xd6, 0x88, 0x58, 0x49, 0xb0, 0xd5, 0xf5, 0xe0, 0x6b,
    ],
    [
        0x20, 0x44, 0x05, 0x34, 0x9a, 0x14, 0xb1, 0x6a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x01,
        0x86, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x05, 0x1c, 0x01, 0x00, 0xe5, 0x20, 0x64, 0x39, 0xde, 0xd0, 0x4b, 0xcc,
        0x61, 0xd3, 0x4b, 0xd9, 0xac, 0x0a, 0x8a, 0x08, 0xd9, 0xf7, 0x11, 0x7e, 0xa1, 0xa0, 0xad, 0xed,
    ],
];

/// The same with `authentication keyed md5`: sequence 0x0414daec.
const BIRD_KEYED_MD5: [u8; 48] = [
    0x20, 0x44, 0x05, 0x30, 0xae, 0x03, 0xb4, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x01, 0x86,
    0xa0, 0x00, 0x00, 0x00, 0x00, 0x02, 0x18, 0x01, 0x00, 0x04, 0x14, 0xda, 0xec, 0xf1, 0xab, 0x0f, 0x3b, 0xfb, 0xd8,
    0x2d, 0x70, 0x14, 0x18, 0x24, 0x59, 0x5b, 0x49, 0xda, 0xd5,
];

/// Up, My 5, Your 4, 1 s / 1 s, signed with meticulous keyed SHA1, key id
/// 1, "secret", sequence 0x01020304: the digest computed apart from this
/// code (Python's hashlib over the packet with the padded key in place).
const PYTHON_METICULOUS_SHA1: [u8; 52] = [
    0x20, 0xc4, 0x03, 0x34, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x0f, 0x42,
    0x40, 0x00, 0x00, 0x00, 0x00, 0x05, 0x1c, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x8a, 0xae, 0x24, 0xea, 0xb1, 0xcb,
    0xb3, 0x9c, 0x55, 0xd0, 0x4d, 0x06, 0x34, 0x75, 0x67, 0x39, 0x40, 0x84, 0xc4, 0x7a,
];

/// The same packet with keyed MD5 (type 2, Length 48).
const PYTHON_KEYED_MD5: [u8; 48] = [
    0x20, 0xc4, 0x03, 0x30, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x0f, 0x42,
    0x40, 0x00, 0x00, 0x00, 0x00, 0x02, 0x18, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x1b, 0xed, 0x0f, 0x74, 0x00, 0x57,
    0x7b, 0xd5, 0x80, 0x06, 0x48, 0x71, 0xb9, 0x44, 0x83, 0xfc,
];

fn key(t: AuthType) -> AuthKey {
    AuthKey::new(t, 1, b"secret").unwrap()
}

/// The mandatory part of `packet` (A cleared, Length 24) signed again with
/// `key` and the packet's own sequence number.
fn resigned(packet: &[u8], key: &AuthKey) -> Vec<u8> {
    let mut buf = [0u8; MAX_LEN];
    buf[..bfd::LEN].copy_from_slice(&packet[..bfd::LEN]);
    buf[1] &= !A_BIT;
    buf[3] = bfd::LEN as u8;
    let len = sign(&mut buf, key, sequence(packet).unwrap());
    buf[..len].to_vec()
}

#[test]
fn birds_meticulous_sha1_packets_verify_and_guardian_signs_them_byte_for_byte() {
    let k = key(AuthType::MeticulousKeyedSha1);
    for packet in BIRD_METICULOUS_SHA1 {
        assert_eq!(verify(&packet, &k), Ok(()));
        assert_eq!(resigned(&packet, &k), packet);
        let c = bfd::decode(&packet).unwrap();
        assert!(c.auth_present);
        assert_eq!((c.state, c.detect_mult, c.my_discriminator), (State::Down, 5, 0x9a14_b16a));
    }
    let seqs: Vec<u32> = BIRD_METICULOUS_SHA1.iter().map(|p| bfd::decode(p).unwrap().auth_sequence.unwrap()).collect();
    assert_eq!(seqs, [0xe520_6438, 0xe520_6439], "BIRD increments per packet");
}

#[test]
fn birds_keyed_md5_packet_verifies_and_guardian_signs_it_byte_for_byte() {
    let k = key(AuthType::KeyedMd5);
    assert_eq!(verify(&BIRD_KEYED_MD5, &k), Ok(()));
    assert_eq!(resigned(&BIRD_KEYED_MD5, &k), BIRD_KEYED_MD5);
    assert_eq!(bfd::decode(&BIRD_KEYED_MD5).unwrap().auth_sequence, Some(0x0414_daec));
}

#[test]
fn signing_matches_digests_computed_apart_from_this_code() {
    let up = Control::new(State::Up, 5, 4);
    for (t, expected) in
        [(AuthType::MeticulousKeyedSha1, &PYTHON_METICULOUS_SHA1[..]), (AuthType::KeyedMd5, &PYTHON_KEYED_MD5[..])]
    {
        let mut buf = [0u8; MAX_LEN];
        buf[..bfd::LEN].copy_from_slice(&bfd::encode(&up));
        let len = sign(&mut buf, &key(t), 0x0102_0304);
        assert_eq!(&buf[..len], expected, "{t:?}");
        assert_eq!(verify(expected, &key(t)), Ok(()));
    }
}

#[test]
fn a_changed_byte_anywhere_fails_the_digest() {
    let k = key(AuthType::MeticulousKeyedSha1);
    for i in [4, 12, 23, 28, 40, 51] {
        let mut p = PYTHON_METICULOUS_SHA1;
        p[i] ^= 1;
        assert_eq!(verify(&p, &k), Err(AuthError::Digest), "byte {i}");
    }
}

#[test]
fn the_wrong_secret_fails_the_digest() {
    let other = AuthKey::new(AuthType::MeticulousKeyedSha1, 1, b"secreT").unwrap();
    assert_eq!(verify(&PYTHON_METICULOUS_SHA1, &other), Err(AuthError::Digest));
}

#[test]
fn type_key_id_and_length_are_checked_before_the_digest() {
    let p = &PYTHON_METICULOUS_SHA1;
    let plain_sha1 = AuthKey::new(AuthType::KeyedSha1, 1, b"secret").unwrap();
    assert_eq!(verify(p, &plain_sha1), Err(AuthError::Type { got: 5, expected: 4 }));
    let md5 = key(AuthType::MeticulousKeyedMd5);
    assert_eq!(verify(p, &md5), Err(AuthError::Type { got: 5, expected: 3 }));
    let id2 = AuthKey::new(AuthType::MeticulousKeyedSha1, 2, b"secret").unwrap();
    assert_eq!(verify(p, &id2), Err(AuthError::KeyId { got: 1, expected: 2 }));
    let k = key(AuthType::MeticulousKeyedSha1);
    let mut bad_len = *p;
    bad_len[25] = 24;
    assert!(matches!(verify(&bad_len, &k), Err(AuthError::Length { auth_len: 24, .. })));
    assert!(matches!(verify(&p[..48], &k), Err(AuthError::Length { .. })), "section cut short by Length");
}

#[test]
fn a_packet_without_the_a_bit_is_missing_its_authentication() {
    let plain = bfd::encode(&Control::new(State::Up, 5, 4));
    assert_eq!(verify(&plain, &key(AuthType::KeyedSha1)), Err(AuthError::Missing));
    assert_eq!(verify(&[], &key(AuthType::KeyedSha1)), Err(AuthError::Missing));
}

#[test]
fn secrets_are_checked_against_the_type() {
    assert_eq!(AuthKey::new(AuthType::KeyedSha1, 1, b""), Err(KeyError::Empty));
    assert!(AuthKey::new(AuthType::KeyedSha1, 1, &[7; 20]).is_ok());
    assert_eq!(
        AuthKey::new(AuthType::KeyedSha1, 1, &[7; 21]),
        Err(KeyError::TooLong { auth_type: AuthType::KeyedSha1, len: 21, max: 20 })
    );
    assert!(AuthKey::new(AuthType::MeticulousKeyedMd5, 1, &[7; 16]).is_ok());
    assert!(AuthKey::new(AuthType::MeticulousKeyedMd5, 1, &[7; 17]).is_err());
}

#[test]
fn a_keys_debug_form_never_shows_the_secret() {
    let shown = format!("{:?}", AuthKey::new(AuthType::KeyedSha1, 9, b"hunter2").unwrap());
    assert!(!shown.contains("hunter2") && !shown.contains("104"), "{shown}");
    assert!(shown.contains("keyed-sha1") && shown.contains('9'), "{shown}");
}

#[test]
fn names_and_codes_round_trip() {
    for t in AuthType::ALL {
        assert_eq!(AuthType::from_name(t.name()), Some(t));
    }
    let codes: Vec<u8> = AuthType::ALL.iter().map(|t| t.code()).collect();
    assert_eq!(codes, [2, 3, 4, 5]);
    assert_eq!(AuthType::from_name("simple"), None);
}

#[test]
fn every_auth_error_has_a_distinct_reason() {
    let errors = [
        AuthError::Missing,
        AuthError::Unexpected,
        AuthError::Type { got: 0, expected: 0 },
        AuthError::Length { auth_len: 0, length: 0 },
        AuthError::KeyId { got: 0, expected: 0 },
        AuthError::Digest,
    ];
    let mut reasons: Vec<&str> = errors.iter().map(AuthError::reason).collect();
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), errors.len());
}
