//! Attachments (medical certificates, receipt photos), referenced from a
//! request by content address and stored once in the vault.
//!
//! A request holds an [`AttachmentRef`]: the SHA-256 of the bytes, their
//! size, media type and file name. The bytes live in the vault under their
//! hash, so the same photo attached twice is stored once, a request record
//! stays small, and the sync engine can upload (and the backend
//! deduplicate) attachments by hash before the requests that cite them.

use ring::digest;
use serde::{Deserialize, Serialize};

use super::error::AttachmentError;
use crate::vault::{Vault, VaultError, Zeroizing};

/// The largest attachment accepted: 20 MiB, room for a full-resolution
/// phone photo or a multi-page scan, small enough to hold in memory on a
/// phone while it is sealed.
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// The longest file name accepted, in bytes (the common file-system limit).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Vault tree of the bytes, keyed by the hex hash.
const BYTES_TREE: &str = "request_attachments";

/// Vault tree that says which hashes are stored, keyed by the hex hash.
/// Written after the bytes, so an entry here means the bytes are on disk;
/// checking it avoids decrypting megabytes to answer "is it there?".
const INDEX_TREE: &str = "request_attachment_index";

/// The SHA-256 of an attachment's bytes, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash(String);

impl ContentHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(digest::digest(&digest::SHA256, bytes)))
    }

    /// Reads a hash written as 64 hex digits (either case).
    pub fn parse(text: &str) -> Result<Self, AttachmentError> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(AttachmentError::InvalidHash)
        }
    }

    /// The 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContentHash {
    type Error = AttachmentError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<ContentHash> for String {
    fn from(hash: ContentHash) -> Self {
        hash.0
    }
}

/// The kinds of file a member can attach: photos and scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaType {
    /// `image/jpeg`
    #[serde(rename = "image/jpeg")]
    Jpeg,
    /// `image/png`
    #[serde(rename = "image/png")]
    Png,
    /// `image/heic`: the iPhone camera's default.
    #[serde(rename = "image/heic")]
    Heic,
    /// `image/webp`
    #[serde(rename = "image/webp")]
    Webp,
    /// `application/pdf`: scanned certificates.
    #[serde(rename = "application/pdf")]
    Pdf,
}

impl MediaType {
    /// Every supported type.
    pub const ALL: [MediaType; 5] = [Self::Jpeg, Self::Png, Self::Heic, Self::Webp, Self::Pdf];

    /// The MIME type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Heic => "image/heic",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    /// Reads a MIME type (case-insensitive); anything else is
    /// [`AttachmentError::UnsupportedMediaType`].
    pub fn parse(text: &str) -> Result<Self, AttachmentError> {
        Self::ALL
            .into_iter()
            .find(|media| media.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or(AttachmentError::UnsupportedMediaType)
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's reference to an attachment whose bytes are in the vault.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The SHA-256 of the bytes: their address in the vault and at the backend.
    pub sha256: ContentHash,
    /// The size in bytes.
    pub size: u64,
    /// What the bytes are.
    pub media_type: MediaType,
    /// The name the member's file had, shown back to them.
    pub file_name: String,
}

// Manual: a file name can name a person or a diagnosis, and Debug output
// ends up in logs.
impl std::fmt::Debug for AttachmentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentRef")
            .field("sha256", &self.sha256)
            .field("size", &self.size)
            .field("media_type", &self.media_type)
            .field("file_name", &"<redacted>")
            .finish()
    }
}

impl AttachmentRef {
    /// Whether the reference could have come from
    /// [`super::Outbox::add_attachment`]: a size within limits and an
    /// acceptable file name. (The hash and media type are checked by their
    /// types.)
    pub fn is_well_formed(&self) -> bool {
        self.size > 0
            && self.size <= MAX_ATTACHMENT_BYTES
            && check_file_name(&self.file_name).is_ok()
    }
}

/// What the index keeps per stored hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredAttachment {
    size: u64,
}

/// A file name we can show and send: not empty, not too long, no path
/// separators or control characters (it travels in upload metadata).
fn check_file_name(name: &str) -> Result<(), AttachmentError> {
    let trimmed = name.trim();
    let acceptable = !trimmed.is_empty()
        && name.len() <= MAX_FILE_NAME_BYTES
        && trimmed != "."
        && trimmed != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if acceptable {
        Ok(())
    } else {
        Err(AttachmentError::InvalidFileName)
    }
}

/// Stores `bytes` under their hash unless already there, and returns the
/// reference. Returns once the bytes and their index entry are on disk.
pub(super) fn store(
    vault: &Vault,
    bytes: &[u8],
    media_type: MediaType,
    file_name: &str,
) -> Result<AttachmentRef, super::OutboxError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size == 0 {
        return Err(AttachmentError::Empty.into());
    }
    if size > MAX_ATTACHMENT_BYTES {
        return Err(AttachmentError::TooLarge {
            max_bytes: MAX_ATTACHMENT_BYTES,
        }
        .into());
    }
    check_file_name(file_name)?;
    let sha256 = ContentHash::of(bytes);
    let key = sha256.as_str().as_bytes();
    if !is_stored(vault, &sha256)? {
        // Bytes first, index second: a crash in between leaves bytes
        // without an index entry, which the next attempt rewrites; never an
        // index entry without bytes.
        vault.put_bytes(BYTES_TREE, key, bytes)?;
        vault.put(INDEX_TREE, key, &StoredAttachment { size })?;
    }
    Ok(AttachmentRef {
        sha256,
        size,
        media_type,
        file_name: file_name.to_owned(),
    })
}

/// Whether the bytes with this hash are in the vault.
pub(super) fn is_stored(vault: &Vault, hash: &ContentHash) -> Result<bool, VaultError> {
    Ok(vault
        .get::<StoredAttachment>(INDEX_TREE, hash.as_str().as_bytes())?
        .is_some())
}

/// The bytes with this hash, checked against it, or `None`.
pub(super) fn load(
    vault: &Vault,
    hash: &ContentHash,
) -> Result<Option<Zeroizing<Vec<u8>>>, super::OutboxError> {
    let Some(bytes) = vault.get_bytes(BYTES_TREE, hash.as_str().as_bytes())? else {
        return Ok(None);
    };
    // The vault's AEAD already guards the bytes; this guards the content
    // address itself, which the backend will check on upload.
    if ContentHash::of(&bytes) != *hash {
        return Err(AttachmentError::HashMismatch.into());
    }
    Ok(Some(bytes))
}

/// How many distinct attachments are stored (for tests of deduplication).
#[cfg(test)]
pub(super) fn stored_count(vault: &Vault) -> usize {
    vault
        .records::<StoredAttachment>(INDEX_TREE)
        .map(|records| records.len())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_in_lowercase_hex() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            ContentHash::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
        assert_eq!(ContentHash::parse(upper).unwrap(), ContentHash::of(b"abc"));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"a".repeat(65)] {
            assert_eq!(ContentHash::parse(bad), Err(AttachmentError::InvalidHash));
        }
        let json = serde_json::to_string(&ContentHash::of(b"abc")).unwrap();
        assert_eq!(
            serde_json::from_str::<ContentHash>(&json).unwrap(),
            ContentHash::of(b"abc")
        );
        assert!(serde_json::from_str::<ContentHash>("\"not a hash\"").is_err());
    }

    #[test]
    fn media_types_round_trip_and_others_are_refused() {
        for media in MediaType::ALL {
            assert_eq!(MediaType::parse(media.as_str()), Ok(media));
            let json = serde_json::to_string(&media).unwrap();
            assert_eq!(json, format!("\"{}\"", media.as_str()));
        }
        assert_eq!(MediaType::parse(" IMAGE/JPEG "), Ok(MediaType::Jpeg));
        assert_eq!(
            MediaType::parse("text/html"),
            Err(AttachmentError::UnsupportedMediaType)
        );
    }

    #[test]
    fn file_names_must_be_plain_names() {
        assert!(check_file_name("certificado médico.pdf").is_ok());
        for bad in [
            "",
            "  ",
            ".",
            "..",
            "a/b.jpg",
            "a\\b.jpg",
            "a\nb.jpg",
            &"x".repeat(256),
        ] {
            assert_eq!(
                check_file_name(bad),
                Err(AttachmentError::InvalidFileName),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_file_name() {
        let attachment = AttachmentRef {
            sha256: ContentHash::of(b"x"),
            size: 1,
            media_type: MediaType::Pdf,
            file_name: "diagnosis-oncology.pdf".into(),
        };
        assert!(!format!("{attachment:?}").contains("oncology"));
    }
}
