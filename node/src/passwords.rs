//! Console passwords: argon2id hashes (PHC strings, with their own salt and parameters) kept in
//! the call center's configuration document, so that every node holding the configuration checks
//! a sign-in offline. Only the hash is ever stored or synced; the password itself is never logged.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Fewest characters a password may have.
pub const MIN_CHARS: usize = 8;
/// Most bytes a password may have (argon2 takes any length; this bounds the work per request).
pub const MAX_BYTES: usize = 256;

/// Why a password is not acceptable, in words for the user.
pub fn check_rules(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err(format!("must have at least {MIN_CHARS} characters"));
    }
    if password.len() > MAX_BYTES {
        return Err(format!("must have at most {MAX_BYTES} bytes"));
    }
    Ok(())
}

/// The argon2id hash of a password, as a PHC string (`$argon2id$v=19$m=…`).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches a stored PHC hash (a malformed hash matches nothing). Takes tens of
/// milliseconds of CPU on purpose: call it off the async workers.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct hors", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(h, hash("correct horse").unwrap(), "salted");
    }

    #[test]
    fn rules() {
        assert!(check_rules("short").is_err());
        assert!(check_rules("long enough").is_ok());
        assert!(check_rules(&"x".repeat(MAX_BYTES + 1)).is_err());
    }
}
