//! Carnet core: the logic of a health-insurance member app, shared by the
//! Android and iOS shells through `carnet-ffi` and by the reference insurer
//! backend in `examples/insurer`.
//!
//! One module, one job:
//! - [`account`]: registration rules shared with the backend;
//! - [`api`]: the HTTPS client toward the insurer (reqwest + rustls on ring);
//! - [`certificate`]: the insurer-signed member certificate (COSE_Sign1 / CWT);
//! - [`device`]: the device key that the certificate binds;
//! - [`vault`]: encrypted storage on the phone;
//! - [`requests`]: leave, continuity, remote-care and claim requests, and
//!   the outbox that keeps them in the vault;
//! - [`sync`]: the request sync (attachments, requests, statuses), with
//!   backoff, cancellation and progress;
//! - [`model`]: the wire types shared with the backend;
//! - [`clock`] and [`rng`]: injectable time and randomness;
//! - [`Carnet`]: the façade that the bindings wrap.

pub mod account;
pub mod api;
mod carnet;
pub mod certificate;
pub mod clock;
pub mod credential;
pub mod device;
pub mod error;
pub mod model;
pub mod requests;
pub mod rng;
pub mod sync;
pub mod token;
pub mod vault;

pub use carnet::{Carnet, CarnetConfig, Enrolment, RENEW_BEFORE, SyncReport, VaultKeySource};
pub use error::Error;
