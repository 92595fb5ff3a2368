//! Pairing a page with the agent: a short code the agent shows where it runs, proven by the
//! page over a nonce, never sent itself.
//!
//! The code is 10 Crockford base32 characters (50 bits), shown as `ABCDE-FGHJK`, with
//! `@<port>` appended when the agent listens elsewhere than [`DEFAULT_PORT`]. The page sends
//! HMAC-SHA256(code, label ‖ nonce ‖ origin): the code never crosses the socket, the proof is
//! useless for another nonce, and it names the origin the agent saw. A few wrong proofs retire
//! the code (the agent shows a new one), so guessing 50 bits online is hopeless.
//!
//! Both ways: the page is only paired once the agent has proven the same secret back
//! ([`answer_proof`], over the page's nonce as well, the port it listens on and the resume
//! token it hands out). A reload re-pairs with the tab's resume token, proven the same way and
//! never sent itself: a process that took the agent's port while the agent was down learns
//! neither the token nor anything typed, and is not believed — nor when it relays the exchange
//! to the agent listening on another port (the agent's answer names that port).

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
const RESUME_LABEL: &[u8] = b"pairux-agent resume v2";
const ANSWER_LABEL: &[u8] = b"pairux-agent answer v2";

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

    /// The secret both ends prove they hold.
    pub(super) fn key(&self) -> &[u8] {
        &self.0
    }

    /// The page's proof over the agent's nonce, for the origin it runs on (base64url).
    pub fn proof(&self, nonce: &str, origin: &str) -> String {
        tag(&self.0, &[LABEL, nonce.as_bytes(), origin.as_bytes()])
    }

    /// Constant-time check of a proof.
    pub fn verify(&self, nonce: &str, origin: &str, proof: &str) -> bool {
        check(
            &self.0,
            &[LABEL, nonce.as_bytes(), origin.as_bytes()],
            proof,
        )
    }
}

/// HMAC-SHA256 under `key` over each part, length-prefixed (u32 BE).
fn mac(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes any key");
    for part in parts {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
    mac
}

fn tag(key: &[u8], parts: &[&[u8]]) -> String {
    URL_SAFE_NO_PAD.encode(mac(key, parts).finalize().into_bytes())
}

fn check(key: &[u8], parts: &[&[u8]], proof: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(proof) else {
        return false;
    };
    mac(key, parts).verify_slice(&tag).is_ok()
}

/// The page's proof that it holds the resume `token`, over the agent's nonce, its origin and
/// the port it reached the agent on.
pub fn resume_proof(token: &str, nonce: &str, origin: &str, port: u16) -> String {
    let port = port.to_be_bytes();
    tag(
        token.as_bytes(),
        &[RESUME_LABEL, nonce.as_bytes(), origin.as_bytes(), &port],
    )
}

/// Constant-time check of [`resume_proof`].
pub fn resume_verify(token: &str, nonce: &str, origin: &str, port: u16, proof: &str) -> bool {
    let port = port.to_be_bytes();
    check(
        token.as_bytes(),
        &[RESUME_LABEL, nonce.as_bytes(), origin.as_bytes(), &port],
        proof,
    )
}

/// What the agent's answer is proven over, besides its secret.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub agent_nonce: &'a str,
    pub page_nonce: &'a str,
    pub origin: &'a str,
    /// The port the agent listens on (the page: the one it connected to).
    pub port: u16,
    /// The resume token handed out with it.
    pub resume: &'a str,
}

/// The agent's proof, in its `paired` answer, that it holds the secret the page proved (`key`:
/// the code's or the resume token's bytes).
pub fn answer_proof(key: &[u8], answer: Answer<'_>) -> String {
    let port = answer.port.to_be_bytes();
    tag(key, &answer_parts(&answer, &port))
}

/// Constant-time check of [`answer_proof`].
pub fn answer_verify(key: &[u8], answer: Answer<'_>, proof: &str) -> bool {
    let port = answer.port.to_be_bytes();
    check(key, &answer_parts(&answer, &port), proof)
}

fn answer_parts<'a>(a: &Answer<'a>, port: &'a [u8; 2]) -> [&'a [u8]; 6] {
    [
        ANSWER_LABEL,
        a.agent_nonce.as_bytes(),
        a.page_nonce.as_bytes(),
        a.origin.as_bytes(),
        port,
        a.resume.as_bytes(),
    ]
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

    #[test]
    fn the_answer_and_the_resume_proof_bind_their_secret_nonces_origin_and_token() {
        let o = "http://localhost:8080";
        let proof = resume_proof("tok", "n1", o, 47800);
        assert!(resume_verify("tok", "n1", o, 47800, &proof));
        assert!(!resume_verify("tok2", "n1", o, 47800, &proof));
        assert!(!resume_verify("tok", "n2", o, 47800, &proof));
        assert!(!resume_verify(
            "tok",
            "n1",
            "https://evil.example",
            47800,
            &proof
        ));
        assert!(!resume_verify("tok", "n1", o, 47801, &proof));
        assert!(!proof.contains("tok"));

        let code = PairingCode::parse("ABCDE-FGHJK").unwrap();
        let a = Answer {
            agent_nonce: "n1",
            page_nonce: "p1",
            origin: o,
            port: 47800,
            resume: "r1",
        };
        let answer = answer_proof(code.key(), a);
        assert!(answer_verify(code.key(), a, &answer));
        assert!(!answer_verify(b"tok", a, &answer));
        for other in [
            Answer {
                agent_nonce: "n2",
                ..a
            },
            Answer {
                page_nonce: "p2",
                ..a
            },
            Answer {
                origin: "https://evil.example",
                ..a
            },
            // Relayed from the port the page reached to an agent on another.
            Answer { port: 47801, ..a },
            Answer { resume: "r2", ..a },
        ] {
            assert!(!answer_verify(code.key(), other, &answer));
        }
        // The page's pairing proof is no answer, nor the other way round.
        assert!(!answer_verify(code.key(), a, &code.proof("n1", o)));
        assert!(!answer_verify(code.key(), a, "not base64!"));
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
