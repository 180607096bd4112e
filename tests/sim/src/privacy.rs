//! Receiver decryption, shared by the simulators that hand out masked receivers with a
//! privacy reference (Taobao's OAID, JD's OAID, 抖店's ciphertexts): what a decrypt gives back
//! ([`PlainReceiver`]) and the record of every decrypt call ([`DecryptCall`]), kept as ground
//! truth so a test can check what came back, scan for plaintext leaks, and audit each call.
//!
//! Platforms hand some phones out as virtual numbers (`18877771111-123`: a number and an
//! extension, valid for a while) instead of the real one; [`virtual_number`] picks which,
//! deterministically from the receiver's reference.

use crate::rng::SimRng;

/// A receiver as a decrypt answers it: plaintext (or a virtual phone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainReceiver {
    pub name: String,
    /// The phone the decrypt answers: the real mobile, or a virtual number `a-b`.
    pub phone: String,
    /// Whether `phone` is a virtual number.
    pub virtual_phone: bool,
    pub province: String,
    pub city: String,
    pub district: String,
    pub town: Option<String>,
    /// The street address, without the regions.
    pub address: String,
}

impl PlainReceiver {
    /// The texts a leak scan looks for: the name, the phone (each half of a virtual one) and
    /// the street address.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.name.clone(), self.address.clone()];
        out.extend(self.phone.split('-').map(str::to_owned));
        out
    }
}

/// One item of a decrypt call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptItem {
    /// The OAID or ciphertext asked about.
    pub reference: String,
    /// The order it was asked for (`tid`, `orderId`, `auth_id`).
    pub order_id: String,
    /// Whether it was decrypted.
    pub ok: bool,
}

/// One decrypt call the simulator answered (a refused call is recorded with no items
/// decrypted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptCall {
    pub method: String,
    /// The scene code given (Taobao, JD), if any.
    pub scene: Option<String>,
    pub items: Vec<DecryptItem>,
    /// Why the whole call was refused, if it was.
    pub refused: Option<String>,
    pub at_ms: i64,
}

impl DecryptCall {
    /// How many items were decrypted.
    pub fn decrypted(&self) -> usize {
        self.items.iter().filter(|i| i.ok).count()
    }
}

/// A stable 64-bit digest of `text` (FNV-1a).
pub fn digest(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// One reference in four gets a virtual number instead of its phone: `1887777xxxx-nnn`.
pub fn virtual_number(reference: &str) -> Option<String> {
    let mut rng = SimRng::new(digest(reference)).fork(7);
    rng.percent(25).then(|| format!("1887777{:04}-{:03}", rng.below(10_000), rng.below(1000)))
}

/// The phone a decrypt of `reference` answers for a receiver whose real phone is `real`.
pub fn answered_phone(reference: &str, real: &str) -> (String, bool) {
    match virtual_number(reference) {
        Some(v) => (v, true),
        None => (real.to_owned(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_numbers_are_stable_and_some() {
        let refs: Vec<String> = (0..200).map(|i| format!("ref{i}")).collect();
        let virtual_count = refs.iter().filter(|r| virtual_number(r).is_some()).count();
        assert!((20..=80).contains(&virtual_count), "{virtual_count}");
        let r = refs.iter().find(|r| virtual_number(r).is_some()).unwrap();
        assert_eq!(virtual_number(r), virtual_number(r));
        let v = virtual_number(r).unwrap();
        let (a, b) = v.split_once('-').unwrap();
        assert_eq!((a.len(), b.len()), (11, 3));
    }
}
