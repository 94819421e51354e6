//! PII masking: e-mail addresses, phone numbers, payment cards, IBANs, IP addresses and national
//! ID numbers are replaced by typed placeholders. Every pattern that has a check (card numbers:
//! Luhn; IBANs: ISO 13616 mod 97; Chinese resident IDs: ISO 7064 mod 11-2 and a birth date; IP
//! addresses: a parse) is only masked when the check passes, so dates, order numbers and prices
//! stay as they are.

use std::net::Ipv6Addr;

use once_cell::sync::Lazy;
use regex::{Captures, Regex};

pub const EMAIL: &str = "[EMAIL]";
pub const PHONE: &str = "[PHONE]";
pub const CARD: &str = "[CARD]";
pub const IBAN: &str = "[IBAN]";
pub const IP: &str = "[IP]";
pub const NATIONAL_ID: &str = "[NATIONAL_ID]";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

static EMAIL_RE: Lazy<Regex> =
    Lazy::new(|| re(r"(?i)(?-u:\b)[a-z0-9._%+-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}(?-u:\b)"));
// country code, check digits, then 11 to 30 characters, printed in groups of four or not at all
static IBAN_RE: Lazy<Regex> = Lazy::new(|| re(r"(?-u:\b)[A-Z]{2}[0-9]{2}(?:(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?|[A-Z0-9]{11,30})(?-u:\b)"));
// + country code and 7 to 14 more digits in groups
static INTL_PHONE_RE: Lazy<Regex> = Lazy::new(|| re(r"\+[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,5}\)?){1,6}"));
static CN_ID_RE: Lazy<Regex> = Lazy::new(|| re(r"(?-u:\b)[0-9]{17}[0-9Xx](?-u:\b)"));
static CARD_RE: Lazy<Regex> = Lazy::new(|| re(r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)"));
static SSN_RE: Lazy<Regex> = Lazy::new(|| re(r"(?-u:\b)([0-9]{3})-([0-9]{2})-([0-9]{4})(?-u:\b)"));
static IPV4_RE: Lazy<Regex> = Lazy::new(|| re(r"(?-u:\b)([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?-u:\b)"));
static IPV6_RE: Lazy<Regex> = Lazy::new(|| re(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}"));
// Chinese mobiles: 1[3-9]x xxxx xxxx; North American: (555) 123-4567 or 555-123-4567
static CN_MOBILE_RE: Lazy<Regex> = Lazy::new(|| re(r"(?-u:\b)1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?-u:\b)"));
static NANP_RE: Lazy<Regex> = Lazy::new(|| re(r"(?:\([0-9]{3}\) ?|(?-u:\b)[0-9]{3}[-.])[0-9]{3}[-.][0-9]{4}(?-u:\b)"));

/// The text with every recognised piece of PII replaced by its placeholder.
pub fn mask(text: &str) -> String {
    let t = EMAIL_RE.replace_all(text, EMAIL);
    let t = replace_checked(&t, &IBAN_RE, |c| iban_valid(&c[0]).then_some(IBAN));
    let t = replace_checked(&t, &INTL_PHONE_RE, |c| {
        let n = digits(&c[0]).len();
        (8..=15).contains(&n).then_some(PHONE)
    });
    let t = replace_checked(&t, &CN_ID_RE, |c| cn_id_valid(&c[0]).then_some(NATIONAL_ID));
    let t = replace_checked(&t, &CARD_RE, |c| card_valid(&c[0]).then_some(CARD));
    let t = replace_checked(&t, &SSN_RE, |c| {
        let ok = &c[1] != "000" && &c[1] != "666" && !c[1].starts_with('9') && &c[2] != "00" && &c[3] != "0000";
        ok.then_some(NATIONAL_ID)
    });
    let t = replace_checked(&t, &IPV4_RE, |c| {
        (1..=4).all(|i| c[i].parse::<u16>().is_ok_and(|o| o <= 255)).then_some(IP)
    });
    let t = replace_checked(&t, &IPV6_RE, |c| {
        let s = &c[0];
        (s.matches(':').count() >= 2 && s.parse::<Ipv6Addr>().is_ok() && s.chars().any(|ch| ch.is_ascii_hexdigit()))
            .then_some(IP)
    });
    let t = CN_MOBILE_RE.replace_all(&t, PHONE);
    NANP_RE.replace_all(&t, PHONE).into_owned()
}

/// Replaces the matches for which `check` gives a placeholder; leaves the others.
fn replace_checked(text: &str, re: &Regex, check: impl Fn(&Captures) -> Option<&'static str>) -> String {
    re.replace_all(text, |c: &Captures| check(c).map_or_else(|| c[0].to_string(), str::to_string))
        .into_owned()
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// Luhn over 13 to 19 digits, separated consistently (all spaces or all dashes) if at all.
pub fn card_valid(s: &str) -> bool {
    let seps: Vec<char> = s.chars().filter(|c| !c.is_ascii_digit()).collect();
    if seps.windows(2).any(|w| w[0] != w[1]) {
        return false;
    }
    let d = digits(s);
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| if i % 2 == 1 { if x * 2 > 9 { x * 2 - 9 } else { x * 2 } } else { x })
        .sum();
    sum % 10 == 0
}

/// ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1.
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = compact[4..].chars().chain(compact[..4].chars());
    let mut rem: u64 = 0;
    for c in rearranged {
        let v = match c {
            '0'..='9' => c as u64 - '0' as u64,
            'A'..='Z' => c as u64 - 'A' as u64 + 10,
            _ => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// The 18-character resident ID of the People's Republic of China: a plausible birth date in
/// characters 7 to 14 and the ISO 7064 mod 11-2 check character.
pub fn cn_id_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    if !(1900..=2100).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(&c, w)| (c - b'0') as u32 * w).sum();
    CHECK[(sum % 11) as usize] == b[17].to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_each_kind() {
        let cases = [
            ("mail me at jane.doe+shop@example.co.uk please", "mail me at [EMAIL] please"),
            ("card 4111 1111 1111 1111 expired", "card [CARD] expired"),
            ("card 4111-1111-1111-1111", "card [CARD]"),
            ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "IBAN [IBAN] for the refund"),
            ("GB82WEST12345698765432", "[IBAN]"),
            ("call +44 20 7946 0958 now", "call [PHONE] now"),
            ("call +86 138 0013 8000", "call [PHONE]"),
            ("手机 13800138000 联系", "手机 [PHONE] 联系"),
            ("手机13800138000联系", "手机[PHONE]联系"),
            ("身份证11010519491231002X。", "身份证[NATIONAL_ID]。"),
            ("ring (555) 123-4567", "ring [PHONE]"),
            ("from 192.168.1.20 today", "from [IP] today"),
            ("from 2001:db8::ff00:42:8329 today", "from [IP] today"),
            ("ID 11010519491231002X", "ID [NATIONAL_ID]"),
            ("SSN 123-45-6789", "SSN [NATIONAL_ID]"),
        ];
        for (input, want) in cases {
            assert_eq!(mask(input), want, "{input}");
        }
    }

    #[test]
    fn leaves_what_is_not_pii() {
        for text in [
            "Delivered on 2026-11-28 at 12:30:45, order #123456789.",
            "Order ORD-2026-000123 cost $1,299.00 (was 1.499,00 EUR).",
            "Card 4111 1111 1111 1112 fails Luhn.",
            "DE89 3704 0044 0532 0130 02 fails mod 97.",
            "Version 1.2.3 of the app, room 101, 3 x 4 = 12.",
            "ID 110105194912310021 has the wrong check digit.",
            "999.168.1.1 is not an address; 10:30 is a time.",
        ] {
            assert_eq!(mask(text), text);
        }
    }

    #[test]
    fn checks() {
        assert!(card_valid("4111111111111111"));
        assert!(!card_valid("4111 1111-1111 1111"), "mixed separators");
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(cn_id_valid("11010519491231002X"));
    }
}
