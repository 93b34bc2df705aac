//! `carnet-ffi`: the UniFFI surface of `carnet-core` for the Android and iOS
//! shells. Thin by rule: wrappers, record mirrors and the one error mapping;
//! no logic (docs/adr/0002-uniffi.md).
//!
//! - [`Carnet`]: the one handle the apps hold (async, tokio-backed);
//! - [`records`]: plain records mirroring the core's types;
//! - [`foreign`]: the traits the apps implement (platform keystore, hardware
//!   device key) and their adapters to the core's traits;
//! - [`error`]: the flat public [`CarnetError`] with stable codes, mapped
//!   from `carnet_core::Error` in one place.

uniffi::setup_scaffolding!();

mod carnet;
pub mod error;
pub mod foreign;
pub mod records;

pub use carnet::Carnet;
pub use error::{CarnetError, DeviceSignerError, KeyStoreError};
pub use foreign::{DeviceSigner, KeyStore};
pub use records::{
    Account, CarnetConfig, Coverage, Device, Enrolment, Registration, RegistrationField,
};
