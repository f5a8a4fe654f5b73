use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// A temporary folder, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("guardian-secret-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn file(&self, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse(text: &str) -> Result<crate::config::Config, String> {
    crate::config::Config::from_toml(text, "test.toml").map_err(|e| e.to_string())
}

fn section(path: &Path) -> String {
    format!("[liveness.auth]\ntype = \"meticulous-keyed-sha1\"\nkey_id = 7\nsecret_file = {:?}\n", path)
}

#[test]
fn a_private_secret_file_becomes_the_key_without_its_trailing_newline() {
    let dir = Dir::new();
    let path = dir.file("bfd.secret", b"secret\n", 0o600);
    let key = parse(&section(&path)).unwrap().liveness.auth.expect("a key");
    assert_eq!(key, AuthKey::new(AuthType::MeticulousKeyedSha1, 7, b"secret").unwrap());
    // Only one newline goes; a CRLF one too.
    let path = dir.file("two", b"secret\n\n", 0o400);
    assert_eq!(read_secret_file(&path, "forge Up packets").unwrap(), b"secret\n");
    let path = dir.file("crlf", b"secret\r\n", 0o400);
    assert_eq!(read_secret_file(&path, "forge Up packets").unwrap(), b"secret");
}

#[test]
fn a_secret_group_or_others_may_read_or_write_is_refused_naming_the_fix() {
    let dir = Dir::new();
    for mode in [0o644, 0o640, 0o620, 0o602, 0o660] {
        let path = dir.file("bfd.secret", b"secret", mode);
        let e = parse(&section(&path)).unwrap_err();
        assert!(e.contains("liveness.auth.secret_file") && e.contains("chmod 600"), "{mode:o}: {e}");
        assert!(e.contains(&format!("{mode:04o}")), "{e}");
    }
    // Execute bits say nothing about reading.
    let path = dir.file("bfd.secret", b"secret", 0o700);
    assert!(parse(&section(&path)).is_ok());
}

#[test]
fn secret_length_is_checked_against_the_type() {
    let dir = Dir::new();
    let long = dir.file("long", &[b'x'; 21], 0o600);
    let e = parse(&section(&long)).unwrap_err();
    assert!(e.contains("21 bytes") && e.contains("at most 20"), "{e}");
    let md5 = section(&dir.file("md5", &[b'x'; 17], 0o600)).replace("meticulous-keyed-sha1", "keyed-md5");
    let e = parse(&md5).unwrap_err();
    assert!(e.contains("17 bytes") && e.contains("at most 16"), "{e}");
    let empty = dir.file("empty", b"\n", 0o600);
    assert!(parse(&section(&empty)).unwrap_err().contains("empty"));
}

#[test]
fn errors_name_the_key_and_line() {
    let dir = Dir::new();
    let ok = dir.file("ok", b"secret", 0o600);
    let bad_type = section(&ok).replace("meticulous-keyed-sha1", "simple-password");
    let e = parse(&bad_type).unwrap_err();
    assert!(e.contains("liveness.auth.type") && e.contains("keyed-sha1") && e.contains("line 2"), "{e}");
    let bad_id = section(&ok).replace("key_id = 7", "key_id = 256");
    assert!(parse(&bad_id).unwrap_err().contains("liveness.auth.key_id"));
    let missing = dir.0.join("missing");
    let e = parse(&section(&missing)).unwrap_err();
    assert!(e.contains("cannot read") && e.contains("missing"), "{e}");
    let relative = section(&ok).replace(ok.to_str().unwrap(), "bfd.secret");
    assert!(parse(&relative).unwrap_err().contains("absolute"));
    let both = format!("{}secret_credential = \"bfd\"\n", section(&ok));
    assert!(parse(&both).unwrap_err().contains("exactly one"));
    let neither = "[liveness.auth]\ntype = \"keyed-sha1\"\nkey_id = 1\n";
    assert!(parse(neither).unwrap_err().contains("exactly one"));
    let unknown = format!("{}password = \"x\"\n", section(&ok));
    assert!(parse(&unknown).unwrap_err().contains("password"));
}

#[test]
fn doublezero_has_no_authentication_section() {
    let dir = Dir::new();
    let ok = dir.file("ok", b"secret", 0o600);
    let text = format!("[liveness]\nprofile = \"doublezero\"\n{}", section(&ok));
    let e = parse(&text).unwrap_err();
    assert!(e.contains("liveness.auth") && e.contains("doublezero") && e.contains("bfd"), "{e}");
}

#[test]
fn a_credential_is_read_from_the_credentials_directory() {
    let dir = Dir::new();
    // systemd's credential files: readable by the unit's user alone,
    // whatever their mode inside that private folder.
    dir.file("bfd.secret", b"secret\n", 0o440);
    assert_eq!(read_credential(Some(&dir.0), "bfd.secret").unwrap(), b"secret");
    let e = read_credential(None, "bfd.secret").unwrap_err();
    assert!(e.contains("LoadCredential") && e.contains(CREDENTIALS_DIRECTORY), "{e}");
    for bad in ["", "../bfd.secret", "a/b", ".."] {
        assert!(read_credential(Some(&dir.0), bad).unwrap_err().contains("not a credential name"), "{bad:?}");
    }
    assert!(read_credential(Some(&dir.0), "other").unwrap_err().contains("cannot read"));
}
