//! JSON bodies for the pages that carry the most bytes (the task lists): `FastJson` writes its value
//! with `sonic-rs`, whose SIMD string escaping is most of what a 50-task page costs to write
//! with `serde_json` (every id, title and key goes through it), and `instant` writes a
//! timestamp without `core::fmt` (chrono's `Serialize` formats through it: a tenth of a list
//! request's CPU for three timestamps a task). Both write what `serde_json` and chrono would,
//! byte for byte (the tests below compare them).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

use crate::error::ApiError;

/// A JSON response body written by `sonic-rs` (the request extractor is `http::extract::Json`).
pub struct FastJson<T>(pub T);

impl<T: Serialize> IntoResponse for FastJson<T> {
    fn into_response(self) -> Response {
        match sonic_rs::to_vec(&self.0) {
            Ok(bytes) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            Err(error) => ApiError::internal(error).into_response(),
        }
    }
}

/// `serialize_with` for a `DateTime<Utc>`: RFC 3339 in UTC with `Z`, and as many fraction
/// digits as the instant needs (none, 3, 6 or 9), as chrono's `Serialize` writes it.
pub fn instant<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let year = at.year();
    // A leap second is carried in the nanoseconds (≥ 1e9): chrono's own writer shows it.
    if !(0..=9999).contains(&year) || at.nanosecond() >= 1_000_000_000 {
        return at.serialize(serializer);
    }
    let mut out = Digits::default();
    out.number(year as u32, 4);
    out.byte(b'-');
    out.number(at.month(), 2);
    out.byte(b'-');
    out.number(at.day(), 2);
    out.byte(b'T');
    out.number(at.hour(), 2);
    out.byte(b':');
    out.number(at.minute(), 2);
    out.byte(b':');
    out.number(at.second(), 2);
    let nanos = at.nanosecond();
    let fraction = match nanos {
        0 => None,
        _ if nanos.is_multiple_of(1_000_000) => Some((nanos / 1_000_000, 3)),
        _ if nanos.is_multiple_of(1_000) => Some((nanos / 1_000, 6)),
        _ => Some((nanos, 9)),
    };
    if let Some((value, digits)) = fraction {
        out.byte(b'.');
        out.number(value, digits);
    }
    out.byte(b'Z');
    serializer.serialize_str(out.as_str())
}

/// `serialize_with` for an `Option<DateTime<Utc>>` (see `instant`).
pub fn optional_instant<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => instant(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// ASCII written into a fixed buffer (the longest instant is 30 bytes).
#[derive(Default)]
struct Digits {
    bytes: [u8; 32],
    len: usize,
}

impl Digits {
    fn byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value` in exactly `digits` decimal digits, zeros first.
    fn number(&mut self, mut value: u32, digits: usize) {
        for place in (self.len..self.len + digits).rev() {
            self.bytes[place] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += digits;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("only ASCII digits and separators")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    #[derive(Serialize)]
    struct Fast {
        #[serde(serialize_with = "instant")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "optional_instant")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chrono {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    fn both(at: DateTime<Utc>, maybe: Option<DateTime<Utc>>) -> (String, String) {
        (
            serde_json::to_string(&Fast { at, maybe }).unwrap(),
            serde_json::to_string(&Chrono { at, maybe }).unwrap(),
        )
    }

    #[test]
    fn instants_are_written_as_chrono_writes_them() {
        let whole = Utc.with_ymd_and_hms(2026, 12, 7, 17, 4, 5).unwrap();
        for at in [
            whole,
            whole + chrono::Duration::milliseconds(120),
            whole + chrono::Duration::microseconds(586_635),
            whole + chrono::Duration::nanoseconds(7),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let (fast, chrono) = both(at, Some(at));
            assert_eq!(fast, chrono);
        }
        let (fast, chrono) = both(whole, None);
        assert_eq!(fast, chrono);
        assert!(fast.contains("\"maybe\":null"), "{fast}");
    }

    proptest! {
        #[test]
        fn any_instant_is_written_as_chrono_writes_it(
            seconds in -62_135_596_800i64..253_402_300_800,
            nanos in prop_oneof![Just(0u32), (0u32..1000).prop_map(|m| m * 1_000_000),
                (0u32..1_000_000).prop_map(|u| u * 1_000), 0u32..1_000_000_000],
        ) {
            let at = DateTime::from_timestamp(seconds, nanos).unwrap();
            let (fast, chrono) = both(at, Some(at));
            prop_assert_eq!(fast, chrono);
        }
    }

    #[test]
    fn a_body_is_what_serde_json_writes() {
        let value = serde_json::json!({
            "title": "quotes \" and \\ and \u{1} and é and \u{2028} and </script>",
            "n": [1, -2, 3.5, 1e300, null, true],
            "nested": {"a": {}, "b": []},
        });
        let response = FastJson(&value).into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let written = sonic_rs::to_vec(&value).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }
}
