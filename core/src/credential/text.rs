//! The QR text: the version prefix `CN1:` and the Base45 (RFC 9285) of the
//! COSE_Sign1. Both stay inside the QR alphanumeric alphabet
//! (`0-9 A-Z space $ % * + - . / :`), which packs 5.5 bits a character.

use super::error::Rejection;

/// The prefix of format version 1. A later, incompatible format gets `CN2:`.
pub const PREFIX: &str = "CN1:";

/// The longest text accepted: the capacity of the largest QR symbol in
/// alphanumeric mode (version 40-L). Longer text cannot come from a scan, and
/// refusing it bounds the work done on hostile input.
pub const MAX_TEXT_LEN: usize = 4296;

/// `PREFIX` followed by the Base45 of `cose`.
pub(crate) fn encode(cose: &[u8]) -> String {
    let body = base45::encode(cose);
    let mut text = String::with_capacity(PREFIX.len() + body.len());
    text.push_str(PREFIX);
    text.push_str(&body);
    text
}

/// The COSE bytes inside `text`. Scanners may append a line end, which is
/// ignored; anything else must be exact: the prefix, then canonical Base45
/// (every character in the alphabet, every group in range, so that one
/// payload has exactly one text).
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, Rejection> {
    let text = text.trim_end_matches(['\r', '\n']);
    if text.len() > MAX_TEXT_LEN {
        return Err(Rejection::Malformed("text too long"));
    }
    let Some(body) = text.strip_prefix(PREFIX) else {
        return Err(if is_other_version(text) {
            Rejection::UnsupportedVersion
        } else {
            Rejection::NotACarnetCode
        });
    };
    let bytes = base45::decode(body).map_err(|_| Rejection::Malformed("not Base45"))?;
    // The crate refuses unknown characters, a dangling character and
    // triples above 65535, but folds a final pair above 255 into a byte:
    // that pair is the one non-canonical spelling left to refuse.
    if body.len() % 3 == 2 && final_pair_value(body).is_none_or(|value| value > 255) {
        return Err(Rejection::Malformed("not canonical Base45"));
    }
    Ok(bytes)
}

/// The value of the last two characters (`c + 45 d`), when both are in the
/// Base45 alphabet.
fn final_pair_value(body: &str) -> Option<u32> {
    const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let digit = |byte: u8| ALPHABET.iter().position(|&c| c == byte).map(|i| i as u32);
    let tail = body.as_bytes().get(body.len().checked_sub(2)?..)?;
    match tail {
        [c, d] => Some(digit(*c)? + 45 * digit(*d)?),
        _ => None,
    }
}

/// `CN` + digits + `:`, other than ours.
fn is_other_version(text: &str) -> bool {
    text.strip_prefix("CN")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(version, _)| {
            !version.is_empty() && version.len() <= 3 && version.bytes().all(|b| b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9285_examples() {
        assert_eq!(base45::encode(b"AB"), "BB8");
        assert_eq!(base45::encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(base45::encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(base45::encode(b"ietf!"), "QED8WEX0");
        assert_eq!(decode("CN1:QED8WEX0").unwrap(), b"ietf!");
    }

    #[test]
    fn prefixes_tell_foreign_codes_from_future_versions() {
        assert_eq!(decode("HC1:ABC"), Err(Rejection::NotACarnetCode));
        assert_eq!(
            decode("https://example.org"),
            Err(Rejection::NotACarnetCode)
        );
        assert_eq!(decode(""), Err(Rejection::NotACarnetCode));
        assert_eq!(decode("cn1:QED8WEX0"), Err(Rejection::NotACarnetCode));
        assert_eq!(decode("CN2:QED8WEX0"), Err(Rejection::UnsupportedVersion));
        assert_eq!(decode("CN10:QED8WEX0"), Err(Rejection::UnsupportedVersion));
        assert_eq!(decode("CN1:QED8WEX0\r\n").unwrap(), b"ietf!");
    }

    #[test]
    fn non_canonical_and_invalid_base45_is_refused() {
        // "GGW" = 65535 + ... out of range for two bytes.
        assert!(decode("CN1:GGW").is_err());
        // A final pair above 255 ("Z2" = 35 + 2 * 45 = 125 is fine, ":Z" is not).
        assert!(decode("CN1::Z").is_err());
        // Lower case, one dangling character, characters outside the alphabet.
        assert!(decode("CN1:qed8wex0").is_err());
        assert!(decode("CN1:QED8WEX").is_err());
        assert!(decode("CN1:QED8WEX0!").is_err());
        assert!(decode(&format!("CN1:{}", "0".repeat(MAX_TEXT_LEN))).is_err());
    }

    #[test]
    fn every_accepted_text_is_the_canonical_encoding_of_its_bytes() {
        // All two-character tails: accepted exactly when they re-encode.
        let alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        for c in alphabet.chars() {
            for d in alphabet.chars() {
                let body = format!("QED{c}{d}");
                if let Ok(bytes) = decode(&format!("{PREFIX}{body}")) {
                    assert_eq!(base45::encode(&bytes), body);
                }
            }
        }
    }

    #[test]
    fn encode_and_decode_are_inverse() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(len))
                .collect();
            let text = encode(&bytes);
            assert!(text.starts_with(PREFIX));
            assert_eq!(decode(&text).unwrap(), bytes);
        }
    }
}
