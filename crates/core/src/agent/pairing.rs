//! Pairing a page with the agent: a short code the agent shows where it runs, proven by the
//! page over a nonce, never sent itself.
//!
//! The code is 10 Crockford base32 characters (50 bits), shown as `ABCDE-FGHJK`, with
//! `@<port>` appended when the agent listens elsewhere than [`DEFAULT_PORT`]. The page sends
//! HMAC-SHA256(code, label ‖ nonce ‖ origin): the code never crosses the socket, the proof is
//! useless for another nonce, and it names the origin the agent saw. A few wrong proofs retire
//! the code (the agent shows a new one), so guessing 50 bits online is hopeless.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where the agent listens unless told otherwise (127.0.0.1 only).
pub const DEFAULT_PORT: u16 = 47800;
/// Random bytes a code is made from (the first 50 bits are used).
pub const CODE_RANDOM_LEN: usize = 7;
const CODE_CHARS: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LABEL: &[u8] = b"pairux-agent pairing v1";

/// A pairing code.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingCode([u8; CODE_CHARS]);

impl std::fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairingCode(…)")
    }
}

/// What a person typed into the page: a code and the port it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingTarget {
    pub code: PairingCode,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("A pairing code has 10 letters and digits, like ABCDE-FGHJK.")]
    Length,
    #[error("A pairing code uses only letters and digits (no I, L, O or U).")]
    Character,
    #[error("The port after @ must be a number from 1024 to 65535.")]
    Port,
}

impl PairingCode {
    pub fn generate(random: &[u8; CODE_RANDOM_LEN]) -> PairingCode {
        let bits = random
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let mut out = [0u8; CODE_CHARS];
        for (i, c) in out.iter_mut().enumerate() {
            // 56 random bits; the top 50 make the code.
            let index = (bits >> (51 - 5 * i)) & 31;
            *c = ALPHABET[index as usize];
        }
        PairingCode(out)
    }

    /// Reads a typed code: case, spaces and dashes do not matter; O reads as 0, I and L as 1.
    pub fn parse(text: &str) -> Result<PairingCode, CodeError> {
        let mut out = [0u8; CODE_CHARS];
        let mut n = 0;
        for c in text.chars() {
            if matches!(c, '-' | ' ' | '\t') {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(CodeError::Character);
            }
            if n == CODE_CHARS {
                return Err(CodeError::Length);
            }
            out[n] = c as u8;
            n += 1;
        }
        if n != CODE_CHARS {
            return Err(CodeError::Length);
        }
        Ok(PairingCode(out))
    }

    /// As shown to a person: `ABCDE-FGHJK`.
    pub fn display(&self) -> String {
        let s = std::str::from_utf8(&self.0).expect("alphabet is ASCII");
        format!("{}-{}", &s[..5], &s[5..])
    }

    /// As shown to a person, with the port when it is not the default.
    pub fn display_for(&self, port: u16) -> String {
        if port == DEFAULT_PORT {
            self.display()
        } else {
            format!("{}@{port}", self.display())
        }
    }

    fn mac(&self, nonce: &str, origin: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).expect("HMAC takes any key");
        for part in [LABEL, nonce.as_bytes(), origin.as_bytes()] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The page's proof over the agent's nonce, for the origin it runs on (base64url).
    pub fn proof(&self, nonce: &str, origin: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(nonce, origin).finalize().into_bytes())
    }

    /// Constant-time check of a proof.
    pub fn verify(&self, nonce: &str, origin: &str, proof: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(proof) else {
            return false;
        };
        self.mac(nonce, origin).verify_slice(&tag).is_ok()
    }
}

impl PairingTarget {
    /// `ABCDE-FGHJK` or `ABCDE-FGHJK@47801`.
    pub fn parse(text: &str) -> Result<PairingTarget, CodeError> {
        let text = text.trim();
        let (code, port) = match text.rsplit_once('@') {
            Some((code, port)) => {
                let port: u16 = port.trim().parse().map_err(|_| CodeError::Port)?;
                if port < 1024 {
                    return Err(CodeError::Port);
                }
                (code, port)
            }
            None => (text, DEFAULT_PORT),
        };
        Ok(PairingTarget {
            code: PairingCode::parse(code)?,
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_read_back_forgivingly() {
        let code = PairingCode::generate(&[0xff, 0, 0x55, 0xaa, 1, 2, 3]);
        let shown = code.display();
        assert_eq!(shown.len(), 11);
        assert_eq!(PairingCode::parse(&shown), Ok(code.clone()));
        assert_eq!(
            PairingCode::parse(&shown.to_lowercase().replace('-', " ")),
            Ok(code.clone())
        );
        assert_eq!(
            PairingCode::parse("oooooiiiil"),
            PairingCode::parse("0000011111")
        );
        assert_eq!(PairingCode::parse("ABCDE-FGHJ"), Err(CodeError::Length));
        assert_eq!(PairingCode::parse("ABCDE-FGHJKM"), Err(CodeError::Length));
        assert_eq!(PairingCode::parse("ABCDE-FGHJU"), Err(CodeError::Character));
        assert_eq!(PairingCode::parse("ABCDE-FGHJé"), Err(CodeError::Character));
        assert_eq!(
            PairingTarget::parse(&code.display_for(47801)),
            Ok(PairingTarget {
                code: code.clone(),
                port: 47801
            })
        );
        assert_eq!(code.display_for(DEFAULT_PORT), shown);
        assert_eq!(PairingTarget::parse("ABCDE-FGHJK@80"), Err(CodeError::Port));
        assert_eq!(PairingTarget::parse("ABCDE-FGHJK@x"), Err(CodeError::Port));
        assert!(!format!("{code:?}").contains(&shown[..5]));
    }

    #[test]
    fn proofs_bind_code_nonce_and_origin() {
        let code = PairingCode::parse("ABCDE-FGHJK").unwrap();
        let other = PairingCode::parse("ABCDE-FGHJM").unwrap();
        let o = "http://localhost:8080";
        let proof = code.proof("n1", o);
        assert!(code.verify("n1", o, &proof));
        assert!(!code.verify("n2", o, &proof));
        assert!(!code.verify("n1", "https://evil.example", &proof));
        assert!(!other.verify("n1", o, &proof));
        assert!(!code.verify("n1", o, "not base64!"));
        assert!(!code.verify("n1", o, ""));
    }

    proptest! {
        #[test]
        fn any_random_makes_a_code_that_parses(r in any::<[u8; CODE_RANDOM_LEN]>()) {
            let code = PairingCode::generate(&r);
            prop_assert_eq!(PairingCode::parse(&code.display()), Ok(code));
        }

        #[test]
        fn parsing_never_panics(text in ".{0,40}") {
            let _ = PairingTarget::parse(&text);
        }
    }
}
