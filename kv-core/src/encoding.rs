//! Small protobuf writers shared by the hand-written encoders: field lengths and field
//! writers that leave out defaults (0, ""), as proto3 and prost's derived code do, so the
//! bytes equal those of the derived records.

use bytes::BufMut;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};

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

/// Writes a varint field (nothing for 0).
pub(crate) fn put_varint_field(tag: u32, value: u64, buf: &mut impl BufMut) {
    if value != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(value, buf);
    }
}

/// Writes a string field (nothing for "").
pub(crate) fn put_string_field(tag: u32, text: &str, buf: &mut impl BufMut) {
    if !text.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(text.len() as u64, buf);
        buf.put_slice(text.as_bytes());
    }
}

/// Writes the head of a nested message field whose body is `body` bytes.
pub(crate) fn put_nested_head(tag: u32, body: usize, buf: &mut impl BufMut) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(body as u64, buf);
}
