//! Receiver masking: what may be shown or stored of a buyer's name, phone and address.
//!
//! Platforms mostly send receivers already masked (`张*`, `138****5678`); these helpers mask
//! values a platform sent in the clear, in the same style, and recognise masked values so a
//! plugin can set `receiver.masked`.

use crate::types::Receiver;

/// The mask character platforms use.
pub const MASK: char = '*';

/// Characters after which an address stops being region and becomes street detail: province,
/// city, district, county, banner (内蒙古), prefecture, town and township suffixes.
const REGION_SUFFIXES: &[char] = &['省', '市', '区', '县', '旗', '州', '盟', '镇', '乡'];

/// What replaces the street part of an address.
const ADDRESS_MASK: &str = "****";

/// Keeps the first character and masks the rest, one `*` each: `张三` → `张*`, `欧阳娜娜` →
/// `欧***`. A single character becomes `*`.
pub fn mask_name(name: &str) -> String {
    let count = name.chars().count();
    match name.chars().next() {
        None => String::new(),
        Some(_) if count == 1 => MASK.to_string(),
        Some(first) => std::iter::once(first).chain(std::iter::repeat_n(MASK, count - 1)).collect(),
    }
}

/// Keeps the first 3 and last 4 digits of a mobile number: `13812345678` → `138****5678`.
/// Numbers too short for that keep only their last 4 characters visible (or none).
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n >= 11 {
        let mut out: String = chars[..3].iter().collect();
        out.extend(std::iter::repeat_n(MASK, n - 7));
        out.extend(&chars[n - 4..]);
        out
    } else if n > 4 {
        let mut out: String = std::iter::repeat_n(MASK, n - 4).collect();
        out.extend(&chars[n - 4..]);
        out
    } else {
        std::iter::repeat_n(MASK, n).collect()
    }
}

/// Keeps the region part of a full address and masks the street:
/// `浙江省杭州市西湖区文三路100号` → `浙江省杭州市西湖区****`. Without a recognisable region
/// the whole address is masked.
pub fn mask_address(address: &str) -> String {
    if address.is_empty() {
        return String::new();
    }
    let region_end = address
        .char_indices()
        .filter(|(_, c)| REGION_SUFFIXES.contains(c))
        .map(|(i, c)| i + c.len_utf8())
        .next_back()
        .unwrap_or(0);
    format!("{}{ADDRESS_MASK}", &address[..region_end])
}

/// Whether a value looks masked or encrypted: it contains `*` (or the full-width `＊`).
/// Douyin's and JD's ciphertexts (`$$…*…$1$$`, `##…*…#1##`) contain `*` too.
pub fn looks_masked(value: &str) -> bool {
    value.contains(MASK) || value.contains('＊')
}

/// Whether any display value of the receiver looks masked.
pub fn receiver_looks_masked(receiver: &Receiver) -> bool {
    [
        &receiver.name,
        &receiver.phone,
        &receiver.province,
        &receiver.city,
        &receiver.district,
        &receiver.town,
        &receiver.address,
        &receiver.postcode,
    ]
    .into_iter()
    .flatten()
    .any(|v| looks_masked(v))
}

/// Masks a receiver's name, phone and street address in place (region fields stay) and marks
/// it masked.
pub fn mask_receiver(receiver: &mut Receiver) {
    if let Some(name) = &mut receiver.name {
        *name = mask_name(name);
    }
    if let Some(phone) = &mut receiver.phone {
        *phone = mask_phone(phone);
    }
    if let Some(address) = &mut receiver.address {
        *address = mask_address(address);
    }
    receiver.masked = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("张"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("Bob"), "B**");
    }

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "+86*******5678");
        assert_eq!(mask_phone("88886666"), "****6666");
        assert_eq!(mask_phone("110"), "***");
    }

    #[test]
    fn addresses() {
        assert_eq!(mask_address("浙江省杭州市西湖区文三路100号"), "浙江省杭州市西湖区****");
        assert_eq!(mask_address("文三路100号"), "****");
        assert_eq!(mask_address(""), "");
    }

    #[test]
    fn detection() {
        assert!(looks_masked("138****5678"));
        assert!(looks_masked("张＊"));
        assert!(looks_masked("$$abc*def$1$$"));
        assert!(!looks_masked("张三"));
        let mut receiver = Receiver {
            name: Some("张三".into()),
            phone: Some("13812345678".into()),
            province: Some("浙江省".into()),
            city: None,
            district: None,
            town: None,
            address: Some("浙江省杭州市西湖区文三路100号".into()),
            postcode: None,
            masked: false,
            privacy_ref: None,
        };
        assert!(!receiver_looks_masked(&receiver));
        mask_receiver(&mut receiver);
        assert!(receiver.masked && receiver_looks_masked(&receiver));
        assert_eq!(receiver.name.as_deref(), Some("张*"));
        assert_eq!(receiver.province.as_deref(), Some("浙江省"));
    }
}
