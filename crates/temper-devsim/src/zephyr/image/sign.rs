//! The simulated bootloader's built-in key, and checking an image's hash and signature against it.
//!
//! The keys are test-only pairs made with `imgtool keygen` (see `crates/temper-devsim/data/README.md`): the
//! public key is what MCUboot compiles in; the private key is compiled in too, only so the simulator can sign
//! its own slot-0 image ([`builtin_image`]). Signatures are checked with `ring` (already built for rustls):
//! ECDSA P-256 with SHA-256 over the signed payload (= over the hash TLV's digest), DER-encoded; Ed25519
//! over the 32-byte digest, as imgtool signs them.

use std::io::Cursor;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use super::tlv::{
    ImageWriter, McubootImage, Version, TLV_ECDSA_SIG, TLV_ED25519, TLV_KEYHASH, TLV_SHA256,
};

const ECDSA_PRIVATE_PEM: &str = include_str!("../../../data/zephyr-boot-ecdsa-p256.pem");
const ECDSA_PUBLIC_PEM: &str = include_str!("../../../data/zephyr-boot-ecdsa-p256.pub.pem");
const ED25519_PRIVATE_PEM: &str = include_str!("../../../data/zephyr-boot-ed25519.pem");
const ED25519_PUBLIC_PEM: &str = include_str!("../../../data/zephyr-boot-ed25519.pub.pem");

/// Which key the simulated MCUboot was built with (`--boot-key`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BootKeyKind {
    /// ECDSA P-256 (`imgtool keygen -t ecdsa-p256`), signature TLV 0x22.
    #[default]
    EcdsaP256,
    /// Ed25519 (`imgtool keygen -t ed25519`), signature TLV 0x24.
    Ed25519,
}

impl BootKeyKind {
    /// As `imgtool keygen -t` names it.
    pub fn name(self) -> &'static str {
        match self {
            BootKeyKind::EcdsaP256 => "ecdsa-p256",
            BootKeyKind::Ed25519 => "ed25519",
        }
    }
}

/// Why the bootloader will not boot an image (the `reason` of a `boot_refused` event).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not an MCUboot image: {0}")]
    Format(#[from] super::tlv::FormatError),
    #[error("the image is larger than its slot")]
    TooLarge,
    #[error("protect_tlv_size in the header does not match the protected TLV area")]
    ProtectedSize,
    #[error("no SHA256 TLV")]
    NoHash,
    #[error("the SHA256 TLV does not match the image")]
    HashMismatch,
    #[error("no KEYHASH TLV matches the bootloader's built-in key")]
    UnknownKey,
    #[error("no {0} signature TLV")]
    NoSignature(&'static str),
    #[error("the signature does not verify against the built-in key")]
    BadSignature,
}

/// A built-in key pair.
pub struct BootKey {
    kind: BootKeyKind,
    /// DER SubjectPublicKeyInfo (what KEYHASH hashes).
    spki: Vec<u8>,
    /// The raw public key inside it, as ring takes it.
    raw_public: Vec<u8>,
    /// PKCS#8 private key.
    pkcs8: Vec<u8>,
}

/// Decodes the one PEM block of a compiled-in key file.
fn pem(text: &str) -> Vec<u8> {
    x509_parser::pem::Pem::read(Cursor::new(text.as_bytes()))
        .expect("compiled-in key files are PEM")
        .0
        .contents
}

impl BootKey {
    /// The compiled-in key pair of `kind`.
    pub fn builtin(kind: BootKeyKind) -> BootKey {
        let (private, public, raw_len) = match kind {
            BootKeyKind::EcdsaP256 => (ECDSA_PRIVATE_PEM, ECDSA_PUBLIC_PEM, 65),
            BootKeyKind::Ed25519 => (ED25519_PRIVATE_PEM, ED25519_PUBLIC_PEM, 32),
        };
        let spki = pem(public);
        // The key is the BIT STRING that ends the SubjectPublicKeyInfo (fixed-size for both curves).
        let raw_public = spki[spki.len() - raw_len..].to_vec();
        BootKey {
            kind,
            spki,
            raw_public,
            pkcs8: pem(private),
        }
    }

    pub fn kind(&self) -> BootKeyKind {
        self.kind
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: the KEYHASH TLV of images signed with this key.
    pub fn key_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.spki).into()
    }

    /// The signature TLV type this key makes.
    pub fn sig_tlv(&self) -> u16 {
        match self.kind {
            BootKeyKind::EcdsaP256 => TLV_ECDSA_SIG,
            BootKeyKind::Ed25519 => TLV_ED25519,
        }
    }

    /// Signs like imgtool: ECDSA over the payload (SHA-256 inside), Ed25519 over the digest.
    pub fn sign(&self, payload: &[u8], digest: &[u8; 32]) -> Vec<u8> {
        match self.kind {
            BootKeyKind::EcdsaP256 => {
                let rng = SystemRandom::new();
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &self.pkcs8,
                    &rng,
                )
                .expect("compiled-in ECDSA key is PKCS#8 P-256");
                debug_assert_eq!(pair.public_key().as_ref(), &self.raw_public[..]);
                pair.sign(&rng, payload)
                    .expect("ECDSA signing")
                    .as_ref()
                    .to_vec()
            }
            BootKeyKind::Ed25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&self.pkcs8)
                .expect("compiled-in Ed25519 key is PKCS#8")
                .sign(digest)
                .as_ref()
                .to_vec(),
        }
    }

    /// Whether `sig` (the value of a signature TLV) verifies.
    fn verify(&self, payload: &[u8], digest: &[u8; 32], sig: &[u8]) -> bool {
        match self.kind {
            BootKeyKind::EcdsaP256 => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.raw_public)
                    .verify(payload, der_sequence(sig))
                    .is_ok()
            }
            BootKeyKind::Ed25519 => UnparsedPublicKey::new(&signature::ED25519, &self.raw_public)
                .verify(digest, sig)
                .is_ok(),
        }
    }

    /// MCUboot's check of a slot's image (`bootutil_img_validate`, simplified): well-formed, within the
    /// slot, SHA256 TLV equal to the digest of header + body + protected area, a KEYHASH TLV naming this
    /// key, and a signature TLV of this key's type that verifies. Returns the digest.
    pub fn validate(&self, bytes: &[u8], slot_size: u64) -> Result<[u8; 32], Refusal> {
        let image = McubootImage::parse(bytes)?;
        if image.len() as u64 > slot_size {
            return Err(Refusal::TooLarge);
        }
        if image.protected_area_len() != usize::from(image.header.protect_tlv_size) {
            return Err(Refusal::ProtectedSize);
        }
        let payload = image.signed_payload().ok_or(Refusal::ProtectedSize)?;
        let digest: [u8; 32] = Sha256::digest(payload).into();
        let claimed = image
            .unprotected(TLV_SHA256)
            .find(|v| v.len() == 32)
            .ok_or(Refusal::NoHash)?;
        if claimed != digest {
            return Err(Refusal::HashMismatch);
        }
        if !image.unprotected(TLV_KEYHASH).any(|h| h == self.key_hash()) {
            return Err(Refusal::UnknownKey);
        }
        let mut sigs = image.unprotected(self.sig_tlv()).peekable();
        if sigs.peek().is_none() {
            return Err(Refusal::NoSignature(self.kind.name()));
        }
        if sigs.any(|sig| self.verify(payload, &digest, sig)) {
            Ok(digest)
        } else {
            Err(Refusal::BadSignature)
        }
    }
}

/// The DER SEQUENCE at the start of `sig` without any padding after it (`imgtool sign --pad-sig` pads
/// ECDSA signatures with zeros to a fixed length; ring wants the exact DER).
fn der_sequence(sig: &[u8]) -> &[u8] {
    match sig {
        [0x30, len, ..] if *len < 0x80 && sig.len() >= 2 + usize::from(*len) => {
            &sig[..2 + usize::from(*len)]
        }
        _ => sig,
    }
}

/// Version of the firmware the sensor ships with in slot 0.
pub const BUILTIN_VERSION: Version = Version {
    major: 1,
    minor: 0,
    revision: 0,
    build: 0,
};

/// The factory firmware of slot 0: a signed MCUboot image (version 1.0.0, 0x200-byte header as
/// `imgtool sign --pad-header` makes it, an 8 KiB body) signed with `key`.
pub fn builtin_image(key: &BootKey) -> Vec<u8> {
    let line = b"zephyr-sensor application 1.0.0 (simulated firmware)\n";
    let body: Vec<u8> = line.iter().copied().cycle().take(8 * 1024).collect();
    ImageWriter {
        version: BUILTIN_VERSION,
        hdr_size: 0x200,
        load_addr: 0,
    }
    .write(&body, key.key_hash(), key.sig_tlv(), |payload, digest| {
        key.sign(payload, digest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The simulator's own image passes its own bootloader, with either key, and a flipped body byte fails.
    #[test]
    fn builtin_image_validates_and_tampering_is_caught() {
        for kind in [BootKeyKind::EcdsaP256, BootKeyKind::Ed25519] {
            let key = BootKey::builtin(kind);
            let img = builtin_image(&key);
            let digest = key.validate(&img, 0x60000).expect("own image validates");
            let parsed = McubootImage::parse(&img).unwrap();
            assert_eq!(parsed.hash_tlv(), Ok(digest), "hash TLV is the digest");
            assert_eq!(parsed.header.version.to_string(), "1.0.0");
            let mut bad = img.clone();
            bad[0x300] ^= 1;
            assert_eq!(key.validate(&bad, 0x60000), Err(Refusal::HashMismatch));
            let other = BootKey::builtin(match kind {
                BootKeyKind::EcdsaP256 => BootKeyKind::Ed25519,
                BootKeyKind::Ed25519 => BootKeyKind::EcdsaP256,
            });
            assert_eq!(
                other.validate(&img, 0x60000),
                Err(Refusal::UnknownKey),
                "an image of one key is refused by the other"
            );
        }
    }

    /// The raw key is taken from the end of the SPKI: the prefixes must be the standard fixed ones.
    #[test]
    fn spki_prefixes_are_the_fixed_ones() {
        let ec = BootKey::builtin(BootKeyKind::EcdsaP256);
        assert_eq!(
            hex::encode(&ec.spki[..ec.spki.len() - 65]),
            "3059301306072a8648ce3d020106082a8648ce3d030107034200"
        );
        let ed = BootKey::builtin(BootKeyKind::Ed25519);
        assert_eq!(
            hex::encode(&ed.spki[..ed.spki.len() - 32]),
            "302a300506032b6570032100"
        );
    }
}
