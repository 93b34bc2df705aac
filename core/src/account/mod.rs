//! Accounts: the registration rules (shared with the backend, which applies
//! the same ones) and the field-by-field errors they produce.

mod registration;

pub use registration::{FieldProblem, RegistrationField, validate_registration};
