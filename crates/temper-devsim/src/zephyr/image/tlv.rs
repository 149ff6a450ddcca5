//! The MCUboot image format (MCUboot `bootutil/image.h`, imgtool `image.py`): a 32-byte little-endian header,
//! the body, then an optional protected TLV area (info magic 0x6908) and the unprotected TLV area (0x6907).
//!
//! [`McubootImage::parse`] reads untrusted bytes: it never panics, never allocates more than one [`Tlv`] per
//! 4 input bytes, and every loop advances by at least 4 bytes. It checks structure only; what the hash and
//! signature TLVs say is checked by the bootloader ([`super::sign`], `zephyr::boot`). [`ImageWriter`] does
//! the reverse, for the simulator's own built-in image.

use std::fmt;

use sha2::{Digest, Sha256};

/// `IMAGE_MAGIC`, little-endian at offset 0.
pub const IMAGE_MAGIC: u32 = 0x96f3_b83d;
/// Size of the header proper (`hdr_size` may be larger: imgtool `--pad-header`).
pub const HEADER_LEN: usize = 32;
/// Info magic of the unprotected TLV area.
pub const TLV_INFO_MAGIC: u16 = 0x6907;
/// Info magic of the protected TLV area (covered by the hash).
pub const TLV_PROT_INFO_MAGIC: u16 = 0x6908;
/// SHA-256 of the DER SubjectPublicKeyInfo of the signing key.
pub const TLV_KEYHASH: u16 = 0x01;
/// SHA-256 over header + body + protected TLV area.
pub const TLV_SHA256: u16 = 0x10;
/// ECDSA P-256 signature, ASN.1 DER.
pub const TLV_ECDSA_SIG: u16 = 0x22;
/// Ed25519 signature (64 bytes) over the 32-byte SHA-256 digest.
pub const TLV_ED25519: u16 = 0x24;
/// Header flag: the image must not be booted.
pub const IMAGE_F_NON_BOOTABLE: u32 = 0x10;

/// Why bytes are not a well-formed MCUboot image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("shorter than the 32-byte MCUboot header")]
    Short,
    #[error("no MCUboot magic (found 0x{0:08x})")]
    BadMagic(u32),
    #[error("header size {0} is smaller than the 32-byte header")]
    HeaderSize(u16),
    #[error("the image body ends at byte {end}, past the {len} bytes present")]
    Truncated { end: usize, len: usize },
    #[error("no TLV area after the body (info magic 0x6907 missing)")]
    NoTlvs,
    #[error("a TLV area or entry runs past its end")]
    TlvOverrun,
}

/// `struct image_version`: shown as "major.minor.revision", plus ".build" when the build number is not 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub revision: u16,
    pub build: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.revision)?;
        if self.build != 0 {
            write!(f, ".{}", self.build)?;
        }
        Ok(())
    }
}

/// `struct image_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub load_addr: u32,
    /// Bytes before the body (≥ 32).
    pub hdr_size: u16,
    /// Size of the whole protected TLV area with its info header, 0 when there is none.
    pub protect_tlv_size: u16,
    /// Size of the body.
    pub img_size: u32,
    pub flags: u32,
    pub version: Version,
}

impl Header {
    /// Reads the header at the start of `bytes` (magic checked, sizes not: see [`McubootImage::parse`]).
    pub fn parse(bytes: &[u8]) -> Result<Header, FormatError> {
        let h = bytes.get(..HEADER_LEN).ok_or(FormatError::Short)?;
        let u16_at = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let magic = u32_at(0);
        if magic != IMAGE_MAGIC {
            return Err(FormatError::BadMagic(magic));
        }
        Ok(Header {
            load_addr: u32_at(4),
            hdr_size: u16_at(8),
            protect_tlv_size: u16_at(10),
            img_size: u32_at(12),
            flags: u32_at(16),
            version: Version {
                major: h[20],
                minor: h[21],
                revision: u16_at(22),
                build: u32_at(24),
            },
        })
    }

    /// The 32 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&IMAGE_MAGIC.to_le_bytes());
        out[4..8].copy_from_slice(&self.load_addr.to_le_bytes());
        out[8..10].copy_from_slice(&self.hdr_size.to_le_bytes());
        out[10..12].copy_from_slice(&self.protect_tlv_size.to_le_bytes());
        out[12..16].copy_from_slice(&self.img_size.to_le_bytes());
        out[16..20].copy_from_slice(&self.flags.to_le_bytes());
        out[20] = self.version.major;
        out[21] = self.version.minor;
        out[22..24].copy_from_slice(&self.version.revision.to_le_bytes());
        out[24..28].copy_from_slice(&self.version.build.to_le_bytes());
        out
    }

    /// Offset of the first TLV area: header + body.
    pub fn body_end(&self) -> usize {
        usize::from(self.hdr_size).saturating_add(self.img_size as usize)
    }
}

/// One TLV entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// `it_type` (imgtool writes the type byte and a zero pad byte, i.e. a little-endian u16).
    pub kind: u16,
    pub value: &'a [u8],
    /// In the protected area (covered by the hash).
    pub protected: bool,
}

/// A structurally sound MCUboot image borrowed from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McubootImage<'a> {
    pub header: Header,
    bytes: &'a [u8],
    /// Size of the protected area found after the body (0 when there is none).
    protected_area_len: usize,
    /// Where the unprotected area ends: the image's length without any slot padding.
    end: usize,
    tlvs: Vec<Tlv<'a>>,
}

impl<'a> McubootImage<'a> {
    /// Parses `bytes` (trailing bytes after the TLV areas, e.g. slot padding, are allowed).
    pub fn parse(bytes: &'a [u8]) -> Result<McubootImage<'a>, FormatError> {
        let header = Header::parse(bytes)?;
        if usize::from(header.hdr_size) < HEADER_LEN {
            return Err(FormatError::HeaderSize(header.hdr_size));
        }
        let body_end = header.body_end();
        if body_end > bytes.len() {
            return Err(FormatError::Truncated {
                end: body_end,
                len: bytes.len(),
            });
        }
        let mut tlvs = Vec::new();
        let mut off = body_end;
        let mut protected_area_len = 0;
        if let Some((TLV_PROT_INFO_MAGIC, _)) = read_info(bytes, off) {
            let end = read_area(bytes, off, true, &mut tlvs)?;
            protected_area_len = end - off;
            off = end;
        }
        match read_info(bytes, off) {
            Some((TLV_INFO_MAGIC, _)) => {}
            _ => return Err(FormatError::NoTlvs),
        }
        let end = read_area(bytes, off, false, &mut tlvs)?;
        Ok(McubootImage {
            header,
            bytes,
            protected_area_len,
            end,
            tlvs,
        })
    }

    /// Every TLV, protected ones first, in file order.
    pub fn tlvs(&self) -> &[Tlv<'a>] {
        &self.tlvs
    }

    /// The unprotected TLVs of `kind`.
    pub fn unprotected(&self, kind: u16) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.tlvs
            .iter()
            .filter(move |t| !t.protected && t.kind == kind)
            .map(|t| t.value)
    }

    /// Size of the protected area actually present (to compare with `header.protect_tlv_size`).
    pub fn protected_area_len(&self) -> usize {
        self.protected_area_len
    }

    /// The image's length up to the end of its TLVs.
    pub fn len(&self) -> usize {
        self.end
    }

    /// Always false: a parsed image has at least a header and a TLV area.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// What the hash and the signature cover, as MCUboot computes it: header + body + `protect_tlv_size`
    /// bytes (the header's own claim). `None` when that runs past the bytes present.
    pub fn signed_payload(&self) -> Option<&'a [u8]> {
        let end = self
            .header
            .body_end()
            .checked_add(usize::from(self.header.protect_tlv_size))?;
        self.bytes.get(..end)
    }

    /// The image hash as Zephyr's `img_mgmt_read_info` reads it: the one SHA256 TLV of length 32 in the
    /// unprotected area. `Err` with the IMG_MGMT_ERR code otherwise (8: none, 6: several).
    pub fn hash_tlv(&self) -> Result<[u8; 32], u64> {
        let mut hashes = self.unprotected(TLV_SHA256).filter(|v| v.len() == 32);
        let first = hashes.next().ok_or(8u64)?;
        if hashes.next().is_some() {
            return Err(6);
        }
        Ok(first.try_into().expect("length checked"))
    }
}

/// `(magic, tlv_tot)` of the info header at `off`.
fn read_info(bytes: &[u8], off: usize) -> Option<(u16, u16)> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some((
        u16::from_le_bytes([b[0], b[1]]),
        u16::from_le_bytes([b[2], b[3]]),
    ))
}

/// Reads the TLV area whose info header is at `start` into `out`; returns where the area ends.
fn read_area<'a>(
    bytes: &'a [u8],
    start: usize,
    protected: bool,
    out: &mut Vec<Tlv<'a>>,
) -> Result<usize, FormatError> {
    let (_, tot) = read_info(bytes, start).ok_or(FormatError::TlvOverrun)?;
    let end = start + usize::from(tot);
    if usize::from(tot) < 4 || end > bytes.len() {
        return Err(FormatError::TlvOverrun);
    }
    let mut pos = start + 4;
    while pos + 4 <= end {
        let kind = u16::from_le_bytes([bytes[pos], bytes[pos + 1]]);
        let len = usize::from(u16::from_le_bytes([bytes[pos + 2], bytes[pos + 3]]));
        let value = bytes
            .get(pos + 4..pos + 4 + len)
            .filter(|_| pos + 4 + len <= end)
            .ok_or(FormatError::TlvOverrun)?;
        out.push(Tlv {
            kind,
            value,
            protected,
        });
        pos += 4 + len;
    }
    Ok(end)
}

/// Writes an MCUboot image like `imgtool sign` (no protected TLVs): header padded to `hdr_size`, body, then
/// the unprotected area with SHA256, KEYHASH and the signature made by `sign(payload, digest)`.
pub struct ImageWriter {
    pub version: Version,
    pub hdr_size: u16,
    pub load_addr: u32,
}

impl ImageWriter {
    /// The whole image. `key_hash` goes in a KEYHASH TLV; `sig_kind` is the signature TLV's type.
    pub fn write(
        &self,
        body: &[u8],
        key_hash: [u8; 32],
        sig_kind: u16,
        sign: impl FnOnce(&[u8], &[u8; 32]) -> Vec<u8>,
    ) -> Vec<u8> {
        let header = Header {
            load_addr: self.load_addr,
            hdr_size: self.hdr_size.max(HEADER_LEN as u16),
            protect_tlv_size: 0,
            img_size: u32::try_from(body.len()).expect("image body under 4 GiB"),
            flags: 0,
            version: self.version,
        };
        let mut img = header.to_bytes().to_vec();
        img.resize(usize::from(header.hdr_size), 0);
        img.extend_from_slice(body);
        let digest: [u8; 32] = Sha256::digest(&img).into();
        let signature = sign(&img, &digest);
        let entries = [
            (TLV_SHA256, &digest[..]),
            (TLV_KEYHASH, &key_hash[..]),
            (sig_kind, &signature[..]),
        ];
        let tot: usize = 4 + entries.iter().map(|(_, v)| 4 + v.len()).sum::<usize>();
        img.extend_from_slice(&TLV_INFO_MAGIC.to_le_bytes());
        img.extend_from_slice(&(tot as u16).to_le_bytes());
        for (kind, value) in entries {
            img.extend_from_slice(&kind.to_le_bytes());
            img.extend_from_slice(&(value.len() as u16).to_le_bytes());
            img.extend_from_slice(value);
        }
        img
    }
}

#[cfg(test)]
#[path = "tlv_tests.rs"]
mod tests;
