//! `[liveness.auth]`: the key of BFD authentication (RFC 5880 6.7), and
//! where its secret comes from.
//!
//! ```toml
//! [liveness.auth]
//! type = "meticulous-keyed-sha1"   # keyed-sha1, keyed-md5, meticulous-keyed-md5
//! key_id = 1                       # 0-255, the same on both ends
//! secret_file = "/etc/guardian/bfd.secret"
//! # or, under systemd (LoadCredential=bfd.secret:/etc/guardian/bfd.secret):
//! # secret_credential = "bfd.secret"
//! ```
//!
//! The secret is read when the configuration is (start-up, reload,
//! check-config). One trailing newline is not part of it (an editor or
//! `echo` leaves one). A `secret_file` that group or others may read or
//! write is refused: whoever can read it can forge Up packets. A credential
//! is read from `$CREDENTIALS_DIRECTORY`, which systemd makes readable by
//! the unit's user alone, so a `DynamicUser=` service, which cannot own a
//! file in /etc, still gets a secret only it can read.

use super::super::EntryError;
use super::Profile;
use serde::Deserialize;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Where systemd puts a unit's credentials (`LoadCredential=`).
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// The authentication types guardian speaks (RFC 5880 4.1, Auth Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    KeyedMd5,
    MeticulousKeyedMd5,
    KeyedSha1,
    MeticulousKeyedSha1,
}

impl AuthType {
    pub const ALL: [AuthType; 4] =
        [AuthType::KeyedMd5, AuthType::MeticulousKeyedMd5, AuthType::KeyedSha1, AuthType::MeticulousKeyedSha1];

    /// The Auth Type code on the wire.
    pub fn code(self) -> u8 {
        match self {
            AuthType::KeyedMd5 => 2,
            AuthType::MeticulousKeyedMd5 => 3,
            AuthType::KeyedSha1 => 4,
            AuthType::MeticulousKeyedSha1 => 5,
        }
    }

    /// The name in the configuration (`[liveness.auth] type`).
    pub fn name(self) -> &'static str {
        match self {
            AuthType::KeyedMd5 => "keyed-md5",
            AuthType::MeticulousKeyedMd5 => "meticulous-keyed-md5",
            AuthType::KeyedSha1 => "keyed-sha1",
            AuthType::MeticulousKeyedSha1 => "meticulous-keyed-sha1",
        }
    }

    pub fn from_name(name: &str) -> Option<AuthType> {
        AuthType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Every packet carries a larger sequence number than the last.
    pub fn meticulous(self) -> bool {
        matches!(self, AuthType::MeticulousKeyedMd5 | AuthType::MeticulousKeyedSha1)
    }

    /// The longest key, and the digest's length.
    pub fn key_len(self) -> usize {
        match self {
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => 16,
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => 20,
        }
    }
}

/// A configured key: its type, its id and the shared secret. Its `Debug`
/// never shows the secret (configurations are logged).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    auth_type: AuthType,
    key_id: u8,
    /// Zero-padded to the digest's length, as it goes into the digest field.
    padded: [u8; 20],
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey").field("type", &self.auth_type.name()).field("key_id", &self.key_id).finish()
    }
}

/// Why a secret cannot be a key of a type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the secret is empty")]
    Empty,
    #[error("the secret is {len} bytes; {} takes at most {max}", auth_type.name())]
    TooLong { auth_type: AuthType, len: usize, max: usize },
}

impl AuthKey {
    pub fn new(auth_type: AuthType, key_id: u8, secret: &[u8]) -> Result<AuthKey, KeyError> {
        let max = auth_type.key_len();
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        if secret.len() > max {
            return Err(KeyError::TooLong { auth_type, len: secret.len(), max });
        }
        let mut padded = [0u8; 20];
        padded[..secret.len()].copy_from_slice(secret);
        Ok(AuthKey { auth_type, key_id, padded })
    }

    pub fn auth_type(&self) -> AuthType {
        self.auth_type
    }

    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// The secret zero-padded to the digest's length, as it goes into
    /// the digest field.
    pub(crate) fn key(&self) -> &[u8] {
        &self.padded[..self.auth_type.key_len()]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct AuthSection {
    #[serde(rename = "type")]
    auth_type: Spanned<String>,
    key_id: Spanned<i64>,
    secret_file: Option<Spanned<String>>,
    secret_credential: Option<Spanned<String>>,
}

/// The key `section` describes, its secret read.
pub(super) fn validate(section: &Spanned<AuthSection>, profile: Profile) -> Result<AuthKey, EntryError> {
    let s = section.get_ref();
    if profile != Profile::Bfd {
        return Err((
            section.span(),
            "liveness.auth",
            format!(
                "the {} packet has no authentication section; authentication is for profile \"bfd\" only",
                profile.label()
            ),
        ));
    }
    let auth_type = AuthType::from_name(s.auth_type.get_ref()).ok_or_else(|| {
        let names: Vec<String> = AuthType::ALL.iter().map(|t| format!("{:?}", t.name())).collect();
        (
            s.auth_type.span(),
            "liveness.auth.type",
            format!("unknown authentication type {:?}; use one of {}", s.auth_type.get_ref(), names.join(", ")),
        )
    })?;
    let key_id = u8::try_from(*s.key_id.get_ref()).map_err(|_| {
        (s.key_id.span(), "liveness.auth.key_id", format!("must be 0-255 (got {})", s.key_id.get_ref()))
    })?;
    let (span, key, secret) = match (&s.secret_file, &s.secret_credential) {
        (Some(file), None) => {
            (file.span(), "liveness.auth.secret_file", read_secret_file(Path::new(file.get_ref()), "forge Up packets"))
        }
        (None, Some(name)) => {
            let dir = std::env::var_os(CREDENTIALS_DIRECTORY).map(PathBuf::from);
            (name.span(), "liveness.auth.secret_credential", read_credential(dir.as_deref(), name.get_ref()))
        }
        _ => {
            return Err((
                section.span(),
                "liveness.auth",
                "needs exactly one of `secret_file` (a file only guardian's user can read) or \
                 `secret_credential` (the name of a systemd credential, LoadCredential=)"
                    .into(),
            ))
        }
    };
    let secret = secret.map_err(|m| (span.clone(), key, m))?;
    AuthKey::new(auth_type, key_id, &secret).map_err(|e| (span, key, e.to_string()))
}

/// Reads a secret file that only its owner may read or write; `harm` says
/// what a reader of the secret could do (BFD's Up packets, BGP's TCP MD5
/// segments), for the error.
pub(in crate::config) fn read_secret_file(path: &Path, harm: &str) -> Result<Vec<u8>, String> {
    if !path.is_absolute() {
        return Err(format!("{} is not an absolute path", path.display()));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o066 != 0 {
        return Err(format!(
            "{} may be read or written by group or others (mode {mode:04o}): anyone who reads it can {harm}; \
             `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    read_secret(path)
}

/// Reads the systemd credential `name` from `dir`, `$CREDENTIALS_DIRECTORY`.
fn read_credential(dir: Option<&Path>, name: &str) -> Result<Vec<u8>, String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("{name:?} is not a credential name (a file name, as in LoadCredential=NAME:PATH)"));
    }
    let dir = dir.ok_or_else(|| {
        format!(
            "the credential {name:?} comes from systemd's LoadCredential=, and ${CREDENTIALS_DIRECTORY} is not \
             set (outside the unit, e.g. for check-config, set it to the folder that holds the file)"
        )
    })?;
    read_secret(&dir.join(name))
}

fn read_secret(path: &Path) -> Result<Vec<u8>, String> {
    let mut secret = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if secret.last() == Some(&b'\n') {
        secret.pop();
        if secret.last() == Some(&b'\r') {
            secret.pop();
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests;
