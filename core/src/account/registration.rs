//! Registration rules from the OSEP form: affiliate number, the 16-digit card
//! number, birth date, a username of 5-25 characters, a password of 8-15
//! letters and digits, and an e-mail address to confirm.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::model::RegisterRequest;

/// The oldest plausible member, in years.
const MAX_AGE_YEARS: i32 = 130;

/// A registration field, named as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationField {
    /// `affiliate_number`
    AffiliateNumber,
    /// `card_number`
    CardNumber,
    /// `birth_date`
    BirthDate,
    /// `username`
    Username,
    /// `password`
    Password,
    /// `email`
    Email,
}

impl RegistrationField {
    /// The field's wire name.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::AffiliateNumber => "affiliate_number",
            Self::CardNumber => "card_number",
            Self::BirthDate => "birth_date",
            Self::Username => "username",
            Self::Password => "password",
            Self::Email => "email",
        }
    }

    /// The field with this wire name.
    pub fn from_wire_name(name: &str) -> Option<Self> {
        [
            Self::AffiliateNumber,
            Self::CardNumber,
            Self::BirthDate,
            Self::Username,
            Self::Password,
            Self::Email,
        ]
        .into_iter()
        .find(|field| field.wire_name() == name)
    }
}

/// Why one field was refused. The message never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// Affiliate number: 4 to 12 digits, optionally followed by `/` and a
    /// 1-2 digit family-member suffix (e.g. `123456/01`).
    #[error(
        "the affiliate number must be 4 to 12 digits, optionally followed by / and a 1-2 digit suffix"
    )]
    AffiliateNumber,
    /// Card number: exactly 16 digits (spaces and dashes are ignored).
    #[error("the card number must be the 16 digits printed on the card")]
    CardNumber,
    /// Birth date in the future.
    #[error("the birth date is in the future")]
    BirthDateInFuture,
    /// Birth date more than 130 years ago.
    #[error("the birth date is more than {MAX_AGE_YEARS} years ago")]
    BirthDateImplausible,
    /// Username length or characters.
    #[error("the username must be 5 to 25 characters: letters, digits, '.', '_' or '-'")]
    Username,
    /// Password length, characters, or missing a letter or a digit.
    #[error("the password must be 8 to 15 letters and digits, with at least one of each")]
    Password,
    /// Not an e-mail address.
    #[error("the e-mail address is not valid")]
    Email,
}

impl FieldProblem {
    /// The field this problem is about.
    pub fn field(&self) -> RegistrationField {
        match self {
            Self::AffiliateNumber => RegistrationField::AffiliateNumber,
            Self::CardNumber => RegistrationField::CardNumber,
            Self::BirthDateInFuture | Self::BirthDateImplausible => RegistrationField::BirthDate,
            Self::Username => RegistrationField::Username,
            Self::Password => RegistrationField::Password,
            Self::Email => RegistrationField::Email,
        }
    }
}

/// Checks every field of `request` against the rules, as of `today`, and
/// returns the normalised request (card number without separators, e-mail
/// trimmed) or every problem found, in field order.
pub fn validate_registration(
    request: &RegisterRequest,
    today: NaiveDate,
) -> Result<RegisterRequest, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    if !affiliate_number_is_valid(&request.affiliate_number) {
        problems.push(FieldProblem::AffiliateNumber);
    }
    let card_number: String = request
        .card_number
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    if card_number.len() != 16 || !card_number.bytes().all(|b| b.is_ascii_digit()) {
        problems.push(FieldProblem::CardNumber);
    }
    if let Some(problem) = birth_date_problem(request.birth_date, today) {
        problems.push(problem);
    }
    if !username_is_valid(&request.username) {
        problems.push(FieldProblem::Username);
    }
    if !password_is_valid(&request.password) {
        problems.push(FieldProblem::Password);
    }
    let email = request.email.trim();
    if !email_is_valid(email) {
        problems.push(FieldProblem::Email);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(RegisterRequest {
        affiliate_number: request.affiliate_number.clone(),
        card_number,
        birth_date: request.birth_date,
        username: request.username.clone(),
        password: request.password.clone(),
        email: email.to_owned(),
    })
}

fn affiliate_number_is_valid(value: &str) -> bool {
    let (main, suffix) = match value.split_once('/') {
        Some((main, suffix)) => (main, Some(suffix)),
        None => (value, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let main_ok = (4..=12).contains(&main.len()) && all_digits(main);
    let suffix_ok = suffix.is_none_or(|s| (1..=2).contains(&s.len()) && all_digits(s));
    main_ok && suffix_ok
}

fn birth_date_problem(birth_date: NaiveDate, today: NaiveDate) -> Option<FieldProblem> {
    if birth_date > today {
        return Some(FieldProblem::BirthDateInFuture);
    }
    let oldest = NaiveDate::from_ymd_opt(today.year() - MAX_AGE_YEARS, 1, 1);
    match oldest {
        Some(oldest) if birth_date >= oldest => None,
        _ => Some(FieldProblem::BirthDateImplausible),
    }
}

fn username_is_valid(value: &str) -> bool {
    let length = value.chars().count();
    (5..=25).contains(&length)
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn password_is_valid(value: &str) -> bool {
    // ASCII only: the OSEP rule says letters and digits, and a password that
    // depends on Unicode normalisation would fail to match on another phone.
    (8..=15).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric())
        && value.bytes().any(|b| b.is_ascii_alphabetic())
        && value.bytes().any(|b| b.is_ascii_digit())
}

fn email_is_valid(value: &str) -> bool {
    // Deliberately simple: the confirmation code is the real check.
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let domain_labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    value.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !local.contains(char::is_whitespace)
        && !local.contains('@')
        && domain_labels_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn valid() -> RegisterRequest {
        RegisterRequest {
            affiliate_number: "123456/01".into(),
            card_number: "6034 9300 0012 3456".into(),
            birth_date: NaiveDate::from_ymd_opt(1984, 3, 9).unwrap(),
            username: "maria.lopez".into(),
            password: "Clave2024".into(),
            email: " maria@example.org ".into(),
        }
    }

    fn problems_of(request: RegisterRequest) -> Vec<FieldProblem> {
        validate_registration(&request, today()).unwrap_err()
    }

    #[test]
    fn a_valid_registration_is_normalised() {
        let ok = validate_registration(&valid(), today()).unwrap();
        assert_eq!(ok.card_number, "6034930000123456");
        assert_eq!(ok.email, "maria@example.org");
    }

    type Mutation = fn(&mut RegisterRequest);

    #[test]
    fn each_field_has_its_own_error() {
        let cases: Vec<(Mutation, FieldProblem)> = vec![
            (
                |r| r.affiliate_number = "12a".into(),
                FieldProblem::AffiliateNumber,
            ),
            (
                |r| r.affiliate_number = "1234/123".into(),
                FieldProblem::AffiliateNumber,
            ),
            (
                |r| r.card_number = "6034 9300 0012 345".into(),
                FieldProblem::CardNumber,
            ),
            (
                |r| r.card_number = "6034-9300-0012-345X".into(),
                FieldProblem::CardNumber,
            ),
            (
                |r| r.birth_date = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                FieldProblem::BirthDateInFuture,
            ),
            (
                |r| r.birth_date = NaiveDate::from_ymd_opt(1890, 1, 1).unwrap(),
                FieldProblem::BirthDateImplausible,
            ),
            (|r| r.username = "abcd".into(), FieldProblem::Username),
            (|r| r.username = "a".repeat(26), FieldProblem::Username),
            (
                |r| r.username = "maria lopez".into(),
                FieldProblem::Username,
            ),
            (|r| r.password = "Clave12".into(), FieldProblem::Password),
            (
                |r| r.password = "Clave1234567890x".into(),
                FieldProblem::Password,
            ),
            (
                |r| r.password = "clavesinnumero".into(),
                FieldProblem::Password,
            ),
            (|r| r.password = "12345678".into(), FieldProblem::Password),
            (|r| r.password = "Clave_2024".into(), FieldProblem::Password),
            (
                |r| r.email = "maria.example.org".into(),
                FieldProblem::Email,
            ),
            (|r| r.email = "maria@localhost".into(), FieldProblem::Email),
            (
                |r| r.email = "ma ria@example.org".into(),
                FieldProblem::Email,
            ),
        ];
        for (mutate, expected) in cases {
            let mut request = valid();
            mutate(&mut request);
            assert_eq!(problems_of(request), vec![expected.clone()], "{expected:?}");
        }
    }

    #[test]
    fn boundaries_are_inclusive() {
        let mut request = valid();
        request.username = "abcde".into();
        request.password = "abcdefg1".into();
        assert!(validate_registration(&request, today()).is_ok());
        request.username = "a".repeat(25);
        request.password = "abcdefghijklmn1".into();
        request.birth_date = today();
        assert!(validate_registration(&request, today()).is_ok());
    }

    #[test]
    fn all_problems_are_reported_in_field_order() {
        let request = RegisterRequest {
            affiliate_number: String::new(),
            card_number: String::new(),
            birth_date: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            username: String::new(),
            password: String::new(),
            email: String::new(),
        };
        let fields: Vec<_> = problems_of(request)
            .iter()
            .map(FieldProblem::field)
            .collect();
        assert_eq!(
            fields,
            vec![
                RegistrationField::AffiliateNumber,
                RegistrationField::CardNumber,
                RegistrationField::BirthDate,
                RegistrationField::Username,
                RegistrationField::Password,
                RegistrationField::Email,
            ]
        );
    }

    #[test]
    fn problem_messages_never_echo_the_value() {
        let mut request = valid();
        request.password = "secretpassword".into();
        for problem in problems_of(request) {
            assert!(!problem.to_string().contains("secretpassword"));
        }
    }
}
