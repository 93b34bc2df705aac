//! What a member or a clerk types, made into 6 ASCII digits.
//!
//! The seeds' members write Spanish, Chinese and Persian: a Persian
//! keyboard types Extended Arabic-Indic digits, an Arabic one Arabic-Indic
//! digits, and Chinese and Japanese input methods often produce full-width
//! digits and spaces. Codes are also read aloud in groups ("123 456",
//! "123-456"), and text copied from a right-to-left message carries
//! invisible direction marks. All of that is accepted; anything else is an
//! error that names the character.

use super::DIGITS;
use super::derive::code_string;
use super::error::TokenInputError;

/// `input` as 6 ASCII digits.
///
/// Accepted digits: ASCII `0`–`9`, Arabic-Indic U+0660–U+0669, Extended
/// Arabic-Indic (Persian, Urdu) U+06F0–U+06F9, full-width U+FF10–U+FF19
/// (scripts may be mixed). Anything else, or a digit count other than 6,
/// is a [`TokenInputError`]. Ignored anywhere in the input:
///
/// | kind | characters |
/// | --- | --- |
/// | spaces | U+0020, U+0009 tab, U+00A0 no-break, U+2009 thin, U+202F narrow no-break (French digit grouping), U+3000 ideographic (CJK input) |
/// | dashes | U+002D `-`, U+2010 hyphen, U+2011 non-breaking hyphen, U+2012 figure dash, U+2013 en dash, U+2014 em dash, U+2212 minus, U+FF0D full-width hyphen-minus |
/// | invisible direction marks (copied from right-to-left text) | U+200E, U+200F, U+061C, U+202A–U+202E, U+2066–U+2069 |
pub fn normalize_code(input: &str) -> Result<String, TokenInputError> {
    normalize_digits(input).map(code_string)
}

/// [`normalize_code`] without the allocation, for the window search.
pub(crate) fn normalize_digits(input: &str) -> Result<[u8; DIGITS], TokenInputError> {
    let mut out = [b'0'; DIGITS];
    let mut found = 0usize;
    for (index, character) in input.chars().enumerate() {
        if let Some(digit) = digit_value(character) {
            // Keep counting past 6 to report how many there were; only the
            // first 6 are stored.
            if let Some(slot) = out.get_mut(found) {
                *slot = b'0' + digit;
            }
            found += 1;
        } else if !is_ignored(character) {
            return Err(TokenInputError::UnexpectedCharacter {
                character,
                code_point: u32::from(character),
                position: index + 1,
            });
        }
    }
    match found {
        0 => Err(TokenInputError::Empty),
        DIGITS => Ok(out),
        found if found < DIGITS => Err(TokenInputError::TooFewDigits { found }),
        found => Err(TokenInputError::TooManyDigits { found }),
    }
}

/// The value of a digit in one of the accepted scripts.
fn digit_value(character: char) -> Option<u8> {
    let zero = match character {
        '0'..='9' => '0',
        '\u{0660}'..='\u{0669}' => '\u{0660}',
        '\u{06F0}'..='\u{06F9}' => '\u{06F0}',
        '\u{FF10}'..='\u{FF19}' => '\u{FF10}',
        _ => return None,
    };
    u8::try_from(u32::from(character) - u32::from(zero)).ok()
}

/// Separators that carry no meaning in a code (the table is on
/// [`normalize_code`]).
fn is_ignored(character: char) -> bool {
    matches!(
        character,
        ' ' | '\t'
            | '\u{00A0}'
            | '\u{2009}'
            | '\u{202F}'
            | '\u{3000}'
            | '-'
            | '\u{2010}'..='\u{2014}'
            | '\u{2212}'
            | '\u{FF0D}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn ascii_digits_pass_through() {
        assert_eq!(normalize_code("012345").unwrap(), "012345");
    }

    #[test]
    fn every_accepted_script_maps_to_ascii() {
        // Arabic-Indic, Persian, full-width, and a mix.
        assert_eq!(normalize_code("٠١٢٣٤٥").unwrap(), "012345");
        assert_eq!(normalize_code("۶۷۸۹۰۱").unwrap(), "678901");
        assert_eq!(normalize_code("９８７６５４").unwrap(), "987654");
        assert_eq!(normalize_code("1٢۳４5٦").unwrap(), "123456");
        for (zero, nine) in [
            ('0', '9'),
            ('\u{0660}', '\u{0669}'),
            ('\u{06F0}', '\u{06F9}'),
            ('\u{FF10}', '\u{FF19}'),
        ] {
            assert_eq!(digit_value(zero), Some(0));
            assert_eq!(digit_value(nine), Some(9));
        }
    }

    #[test]
    fn spaces_dashes_and_direction_marks_are_ignored() {
        for input in [
            "123 456",
            " 123456 ",
            "123-456",
            "12-34-56",
            "123\u{00A0}456",
            "123\u{3000}456",
            "123\u{2010}456",
            "123\u{2013}456",
            "123\u{2014}456",
            "123\u{FF0D}456",
            "123\u{202F}456",
            "\u{200F}123 456\u{200E}",
            "\u{2068}123456\u{2069}",
        ] {
            assert_eq!(normalize_code(input).unwrap(), "123456", "{input:?}");
        }
        assert_eq!(normalize_code("۱۲۳ ۴۵۶").unwrap(), "123456");
        assert_eq!(normalize_code("１２３－４５６").unwrap(), "123456");
    }

    #[test]
    fn a_foreign_character_is_named_with_its_position() {
        let err = normalize_code("12a456").unwrap_err();
        assert_eq!(
            err,
            TokenInputError::UnexpectedCharacter {
                character: 'a',
                code_point: 0x61,
                position: 3
            }
        );
        assert!(err.to_string().contains("character 3"), "{err}");
        // Look-alikes that are not accepted: Devanagari digits, a dot, an
        // underscore, a letter O for a zero.
        for input in ["१२३४५६", "123.456", "123_456", "12345O"] {
            assert!(
                matches!(
                    normalize_code(input),
                    Err(TokenInputError::UnexpectedCharacter { .. })
                ),
                "{input:?}"
            );
        }
    }

    #[test]
    fn wrong_counts_say_how_many() {
        assert_eq!(normalize_code(""), Err(TokenInputError::Empty));
        assert_eq!(normalize_code(" - "), Err(TokenInputError::Empty));
        assert_eq!(
            normalize_code("12345"),
            Err(TokenInputError::TooFewDigits { found: 5 })
        );
        assert_eq!(
            normalize_code("1234567"),
            Err(TokenInputError::TooManyDigits { found: 7 })
        );
        let long = "9".repeat(10_000);
        assert_eq!(
            normalize_code(&long),
            Err(TokenInputError::TooManyDigits { found: 10_000 })
        );
        assert!(
            TokenInputError::TooFewDigits { found: 5 }
                .to_string()
                .contains("5 digits")
        );
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        let once = normalize_code("۱۲۳-۴۵۶").unwrap();
        assert_eq!(normalize_code(&once).unwrap(), once);
    }
}
