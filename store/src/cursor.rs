//! Opaque keyset cursors: the position `(start_time, id)` of a row, hex-encoded.

use crate::StoreError;

/// A position in the `(start_time, id)` order of the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    /// `logs.start_time`, unix microseconds.
    pub(crate) start_time: i64,
    /// `logs.id`.
    pub(crate) id: String,
}

const VERSION: &str = "1";

impl Position {
    /// Encodes the position as an opaque cursor string.
    pub(crate) fn encode(&self) -> String {
        hex(format!("{VERSION}|{}|{}", self.start_time, self.id).as_bytes())
    }

    /// Decodes a cursor made by [`Position::encode`].
    pub(crate) fn decode(cursor: &str) -> Result<Position, StoreError> {
        let bad = || StoreError::BadCursor(format!("{cursor:?} is not a cursor of this store"));
        let bytes = unhex(cursor).ok_or_else(bad)?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(3, '|');
        let (Some(VERSION), Some(start_time), Some(id)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let start_time = start_time.parse().map_err(|_| bad())?;
        Ok(Position {
            start_time,
            id: id.to_owned(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        let position = Position {
            start_time: -42,
            id: "0193a|odd|id".into(),
        };
        assert_eq!(Position::decode(&position.encode()).ok(), Some(position));
        for junk in ["", "zz", "abc", "7c7c", &hex(b"2|1|x"), &hex(b"1|x|y")] {
            assert!(matches!(
                Position::decode(junk),
                Err(StoreError::BadCursor(_))
            ));
        }
    }
}
