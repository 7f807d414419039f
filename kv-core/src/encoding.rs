//! Small protobuf writers shared by the hand-written encoders: field lengths and field
//! writers that leave out defaults (0, ""), as proto3 and prost's derived code do, so the
//! bytes equal those of the derived records.

use bytes::BufMut;
use prost::encoding::{encoded_len_varint, key_len, WireType};

/// The encoded length of a varint field holding `value`.
pub(crate) fn varint_field_len(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(value)
    }
}

/// The encoded length of a string field holding `text`.
pub(crate) fn string_field_len(tag: u32, text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        key_len(tag) + encoded_len_varint(text.len() as u64) + text.len()
    }
}

/// The encoded length of a nested message field whose body is `body` bytes.
pub(crate) fn nested_len(tag: u32, body: usize) -> usize {
    key_len(tag) + encoded_len_varint(body as u64) + body
}

/// Field heads (keys, varints, lengths) gathered on the stack and written to a buffer
/// in one `put_slice`: a `BufMut` such as `BytesMut` checks its capacity on every put,
/// which costs more than the byte it writes.
pub(crate) struct Head {
    bytes: [u8; Head::CAPACITY],
    len: usize,
}

impl Head {
    /// Room for four fields of a key and a 10-byte varint each.
    const CAPACITY: usize = 4 * (5 + 10);

    pub(crate) fn new() -> Head {
        Head {
            bytes: [0; Head::CAPACITY],
            len: 0,
        }
    }

    /// A varint field (nothing for 0).
    pub(crate) fn varint_field(&mut self, tag: u32, value: u64) -> &mut Head {
        if value != 0 {
            self.key(tag, WireType::Varint).varint(value);
        }
        self
    }

    /// The key and length of a length-delimited field of `len` bytes.
    pub(crate) fn delimited(&mut self, tag: u32, len: usize) -> &mut Head {
        self.key(tag, WireType::LengthDelimited).varint(len as u64)
    }

    /// Writes what was gathered to `buf` and empties the head.
    pub(crate) fn flush(&mut self, buf: &mut impl BufMut) {
        buf.put_slice(&self.bytes[..self.len]);
        self.len = 0;
    }

    fn key(&mut self, tag: u32, wire_type: WireType) -> &mut Head {
        self.varint(u64::from(tag) << 3 | wire_type as u64)
    }

    fn varint(&mut self, mut value: u64) -> &mut Head {
        debug_assert!(
            self.len + 10 <= Head::CAPACITY,
            "a head of more than four fields"
        );
        while value >= 0x80 {
            self.bytes[self.len] = (value as u8) | 0x80;
            self.len += 1;
            value >>= 7;
        }
        self.bytes[self.len] = value as u8;
        self.len += 1;
        self
    }
}

/// Writes a varint field (nothing for 0).
pub(crate) fn put_varint_field(tag: u32, value: u64, buf: &mut impl BufMut) {
    Head::new().varint_field(tag, value).flush(buf);
}

/// Writes a string field (nothing for "").
pub(crate) fn put_string_field(tag: u32, text: &str, buf: &mut impl BufMut) {
    if !text.is_empty() {
        Head::new().delimited(tag, text.len()).flush(buf);
        buf.put_slice(text.as_bytes());
    }
}

/// Writes the head of a nested message field whose body is `body` bytes.
pub(crate) fn put_nested_head(tag: u32, body: usize, buf: &mut impl BufMut) {
    Head::new().delimited(tag, body).flush(buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::encoding::{encode_key, encode_varint};

    #[test]
    fn heads_are_written_as_prost_writes_them() {
        for value in [0, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            for tag in [1, 5, 15, 16, 2047, 2048] {
                let mut expected = Vec::new();
                if value != 0 {
                    encode_key(tag, WireType::Varint, &mut expected);
                    encode_varint(value, &mut expected);
                }
                encode_key(tag, WireType::LengthDelimited, &mut expected);
                encode_varint(value, &mut expected);
                let mut written = Vec::new();
                let mut head = Head::new();
                head.varint_field(tag, value)
                    .delimited(tag, value as usize)
                    .flush(&mut written);
                assert_eq!(written, expected, "tag {tag}, value {value}");
            }
        }
    }
}
