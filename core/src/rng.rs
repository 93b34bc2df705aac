//! Injectable randomness for identifiers and nonces.
//!
//! ring's `SecureRandom` is sealed, so tests cannot substitute it; this trait
//! can be seeded. Key generation and signing still use ring's system source.

use parking_lot::Mutex;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// The operating system refused to give random bytes.
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// A source of random bytes.
pub trait Rng: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's cryptographic random source.
#[derive(Debug, Clone)]
pub struct SystemRng(SystemRandom);

impl SystemRng {
    /// A handle to the system source.
    pub fn new() -> Self {
        Self(SystemRandom::new())
    }
}

impl Default for SystemRng {
    fn default() -> Self {
        Self::new()
    }
}

impl Rng for SystemRng {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(dest).map_err(|_| RandomError)
    }
}

/// A deterministic source for tests and test vectors: SHA-256 of a seed and a
/// counter. Never use it for real keys.
#[derive(Debug)]
pub struct SeededRng {
    seed: [u8; 32],
    counter: Mutex<u64>,
}

impl SeededRng {
    /// A source whose output depends only on `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            seed,
            counter: Mutex::new(0),
        }
    }
}

impl Rng for SeededRng {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let mut counter = self.counter.lock();
        for chunk in dest.chunks_mut(32) {
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(&self.seed);
            ctx.update(&counter.to_be_bytes());
            *counter += 1;
            let block = ctx.finish();
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
        Ok(())
    }
}

/// `len` random bytes from `rng`.
pub fn random_bytes(rng: &dyn Rng, len: usize) -> Result<Vec<u8>, RandomError> {
    let mut out = vec![0u8; len];
    rng.fill(&mut out)?;
    Ok(out)
}
