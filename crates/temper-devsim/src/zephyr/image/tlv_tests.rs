use proptest::prelude::*;

use super::*;

fn sample(protected: Option<&[u8]>) -> Vec<u8> {
    let body = vec![0xabu8; 100];
    let mut header = Header {
        load_addr: 0,
        hdr_size: 64,
        protect_tlv_size: 0,
        img_size: body.len() as u32,
        flags: 0,
        version: Version {
            major: 1,
            minor: 2,
            revision: 3,
            build: 4,
        },
    };
    let prot_area = protected.map(|v| {
        let mut a = TLV_PROT_INFO_MAGIC.to_le_bytes().to_vec();
        a.extend_from_slice(&((8 + v.len()) as u16).to_le_bytes());
        a.extend_from_slice(&0x50u16.to_le_bytes());
        a.extend_from_slice(&(v.len() as u16).to_le_bytes());
        a.extend_from_slice(v);
        a
    });
    header.protect_tlv_size = prot_area.as_ref().map_or(0, |a| a.len() as u16);
    let mut img = header.to_bytes().to_vec();
    img.resize(64, 0);
    img.extend_from_slice(&body);
    if let Some(a) = &prot_area {
        img.extend_from_slice(a);
    }
    let digest = Sha256::digest(&img);
    img.extend_from_slice(&TLV_INFO_MAGIC.to_le_bytes());
    img.extend_from_slice(&(4u16 + 4 + 32).to_le_bytes());
    img.extend_from_slice(&TLV_SHA256.to_le_bytes());
    img.extend_from_slice(&32u16.to_le_bytes());
    img.extend_from_slice(&digest);
    img
}

/// A hand-built image with a protected area: its TLVs, sizes and hash read back as written.
#[test]
fn parses_protected_and_unprotected_areas() {
    let img = sample(Some(&[1, 0, 0, 0]));
    let parsed = McubootImage::parse(&img).expect("well-formed");
    assert_eq!(parsed.header.version.to_string(), "1.2.3.4");
    assert_eq!(parsed.len(), img.len());
    assert_eq!(parsed.protected_area_len(), 12);
    let kinds: Vec<(u16, bool)> = parsed
        .tlvs()
        .iter()
        .map(|t| (t.kind, t.protected))
        .collect();
    assert_eq!(kinds, vec![(0x50, true), (TLV_SHA256, false)]);
    let payload = parsed.signed_payload().unwrap();
    assert_eq!(
        payload.len(),
        64 + 100 + 12,
        "hash covers the protected area"
    );
    assert_eq!(
        parsed.hash_tlv().unwrap(),
        <[u8; 32]>::from(Sha256::digest(payload))
    );
}

/// Zephyr's reading of the hash: none → 8 (HASH_NOT_FOUND), two → 6 (TLV_MULTIPLE_HASHES).
#[test]
fn hash_tlv_errors_as_zephyr() {
    let mut img = sample(None);
    let info = img.len() - 40;
    img[info + 4] = 0x11; // the only SHA256 TLV becomes a SHA384 one
    assert_eq!(McubootImage::parse(&img).unwrap().hash_tlv(), Err(8));
    let mut img = sample(None);
    let tlv = img[img.len() - 36..].to_vec();
    img.extend_from_slice(&tlv);
    let info = img.len() - 76;
    img[info + 2..info + 4].copy_from_slice(&76u16.to_le_bytes());
    assert_eq!(McubootImage::parse(&img).unwrap().hash_tlv(), Err(6));
}

/// Structural errors are told apart.
#[test]
fn structural_errors() {
    let img = sample(None);
    assert_eq!(McubootImage::parse(&img[..10]), Err(FormatError::Short));
    let mut bad = img.clone();
    bad[0] ^= 0xff;
    assert!(matches!(
        McubootImage::parse(&bad),
        Err(FormatError::BadMagic(_))
    ));
    assert!(matches!(
        McubootImage::parse(&img[..120]),
        Err(FormatError::Truncated { .. })
    ));
    assert_eq!(
        McubootImage::parse(&img[..164]),
        Err(FormatError::NoTlvs),
        "body complete, TLV area missing"
    );
    assert_eq!(
        McubootImage::parse(&img[..img.len() - 1]),
        Err(FormatError::TlvOverrun)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes never panic, and what parses stays inside the input.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(img) = McubootImage::parse(&bytes) {
            prop_assert!(img.len() <= bytes.len());
            prop_assert!(img.tlvs().len() <= bytes.len() / 4);
            let _ = img.hash_tlv();
            let _ = img.signed_payload();
        }
    }

    /// A valid header followed by arbitrary bytes (so the TLV walk is reached) never panics either.
    #[test]
    fn arbitrary_tlv_areas_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..400),
        img_size in 0u32..64,
        prot in any::<u16>(),
        magic_first in any::<bool>(),
    ) {
        let header = Header {
            load_addr: 0,
            hdr_size: 32,
            protect_tlv_size: prot,
            img_size,
            flags: 0,
            version: Version { major: 0, minor: 0, revision: 0, build: 0 },
        };
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(0u8, img_size as usize));
        if magic_first {
            bytes.extend_from_slice(&TLV_INFO_MAGIC.to_le_bytes());
        }
        bytes.extend_from_slice(&tail);
        if let Ok(img) = McubootImage::parse(&bytes) {
            prop_assert!(img.len() <= bytes.len());
            let _ = img.hash_tlv();
            let _ = img.signed_payload();
        }
    }

    /// Flipping any byte of a valid image never panics.
    #[test]
    fn mutated_image_never_panics(pos in 0usize..240, value in any::<u8>()) {
        let mut img = sample(Some(&[7; 8]));
        let pos = pos % img.len();
        img[pos] = value;
        let _ = McubootImage::parse(&img).map(|i| i.hash_tlv());
    }
}
