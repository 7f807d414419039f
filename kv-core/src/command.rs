//! A log entry's command, read in place: the [`Request`] encoding that a leader stores in
//! the Raft log, seen as borrowed text instead of decoded into owned strings.
//!
//! Every server reads every committed command, so this is on the hot path of all of
//! them. [`with_command`] reads the canonical encoding (what [`Request::to_bytes`]
//! writes: each field at most once, in tag order, nothing else) without allocating, and
//! hands anything else to prost through [`Request::from_bytes`]. Both give the same
//! request for the same bytes, so servers of different versions, or entries written by
//! another encoder, apply alike.

use prost::encoding::decode_varint;

use crate::proto::{Op, Request};
use crate::types::{ClientId, Seq};

/// One operation, borrowing its key and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpRef<'a> {
    /// Read `key`.
    Get { key: &'a str },
    /// Replace the value of `key`.
    Put { key: &'a str, value: &'a str },
    /// Extend the value of `key`.
    Append { key: &'a str, value: &'a str },
}

/// A request, borrowing its key and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Command<'a> {
    pub(crate) client: ClientId,
    pub(crate) seq: Seq,
    pub(crate) op: OpRef<'a>,
}

impl<'a> Command<'a> {
    /// The view of an owned request.
    pub(crate) fn of(request: &'a Request) -> Command<'a> {
        let op = match &request.op {
            Op::Get { key } => OpRef::Get { key },
            Op::Put { key, value } => OpRef::Put { key, value },
            Op::Append { key, value } => OpRef::Append { key, value },
        };
        Command {
            client: request.client,
            seq: request.seq,
            op,
        }
    }
}

/// Reads the command in `bytes` and hands it to `read` (`None` if the bytes are not a
/// request): the canonical encoding in place, anything else through prost.
pub(crate) fn with_command<R>(bytes: &[u8], read: impl FnOnce(Option<Command<'_>>) -> R) -> R {
    if let Some(command) = parse_canonical(bytes) {
        return read(Some(command));
    }
    let decoded = Request::from_bytes(bytes).ok();
    read(decoded.as_ref().map(Command::of))
}

/// Field keys of the canonical encoding (tag << 3 | wire type; all below 16, one byte).
const KEY_CLIENT: u8 = 1 << 3;
const KEY_SEQ: u8 = 2 << 3;
const KEY_GET: u8 = 3 << 3 | 2;
const KEY_PUT: u8 = 4 << 3 | 2;
const KEY_APPEND: u8 = 5 << 3 | 2;
const KEY_OP_KEY: u8 = 1 << 3 | 2;
const KEY_OP_VALUE: u8 = 2 << 3 | 2;

/// The request in `bytes` if they are laid out exactly as [`Request::to_bytes`] lays out
/// some request (zero fields left out); `None` for anything else, valid or not.
fn parse_canonical(bytes: &[u8]) -> Option<Command<'_>> {
    let mut reader = Reader(bytes);
    let client = reader.varint_field(KEY_CLIENT)?;
    let seq = reader.varint_field(KEY_SEQ)?;
    let op_key = reader.byte()?;
    let body = reader.length_delimited()?;
    if !reader.0.is_empty() {
        return None;
    }
    // One UTF-8 check of the whole body instead of one per text: the heads before the
    // texts end in an ASCII byte (a varint's last byte), so if the body is UTF-8, both
    // texts start and end on char boundaries and are UTF-8 too. A body that is not (a
    // length of 128 or more can make it so) has its texts checked one by one.
    let texts = Texts {
        whole: std::str::from_utf8(body).ok(),
        body,
    };
    let mut reader = Reader(body);
    let key = reader.text_field(KEY_OP_KEY, &texts)?;
    let op = match op_key {
        KEY_GET => OpRef::Get { key },
        KEY_PUT => OpRef::Put {
            key,
            value: reader.text_field(KEY_OP_VALUE, &texts)?,
        },
        KEY_APPEND => OpRef::Append {
            key,
            value: reader.text_field(KEY_OP_VALUE, &texts)?,
        },
        _ => return None,
    };
    if !reader.0.is_empty() {
        return None;
    }
    Some(Command {
        client: ClientId(client),
        seq: Seq(seq),
        op,
    })
}

/// What is left to read.
struct Reader<'a>(&'a [u8]);

/// The body of an op, and the same bytes as text if they are UTF-8 as a whole.
struct Texts<'a> {
    body: &'a [u8],
    whole: Option<&'a str>,
}

impl<'a> Texts<'a> {
    /// The `len` bytes of the body from `start` as text, if UTF-8.
    fn text(&self, start: usize, len: usize) -> Option<&'a str> {
        let end = start.checked_add(len)?;
        match self.whole {
            Some(whole) => whole.get(start..end),
            None => std::str::from_utf8(self.body.get(start..end)?).ok(),
        }
    }
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    #[inline]
    fn varint(&mut self) -> Option<u64> {
        // One or two bytes (below 16384: client ids, sequence numbers, lengths) are the
        // common cases; prost reads the rest.
        match *self.0 {
            [first, ref rest @ ..] if first < 0x80 => {
                self.0 = rest;
                Some(u64::from(first))
            }
            [first, second, ref rest @ ..] if second < 0x80 => {
                self.0 = rest;
                Some(u64::from(first & 0x7f) | u64::from(second) << 7)
            }
            _ => self.long_varint(),
        }
    }

    #[cold]
    #[inline(never)]
    fn long_varint(&mut self) -> Option<u64> {
        decode_varint(&mut self.0).ok()
    }

    /// The varint field with `key` if it comes next, else 0 (left out as the default).
    fn varint_field(&mut self, key: u8) -> Option<u64> {
        if self.0.first() != Some(&key) {
            return Some(0);
        }
        self.0 = &self.0[1..];
        self.varint()
    }

    /// A length and that many bytes.
    fn length_delimited(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (body, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(body)
    }

    /// The UTF-8 text field with `key` if it comes next, else "" (left out as the
    /// default). `self` reads `texts.body`.
    fn text_field(&mut self, key: u8, texts: &Texts<'a>) -> Option<&'a str> {
        if self.0.first() != Some(&key) {
            return Some("");
        }
        self.0 = &self.0[1..];
        let len = self.length_delimited()?.len();
        // The text ends where what is left to read starts.
        let end = texts.body.len() - self.0.len();
        texts.text(end - len, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(client: u64, seq: u64, op: Op) -> Request {
        Request {
            client: ClientId(client),
            seq: Seq(seq),
            op,
        }
    }

    fn samples() -> Vec<Request> {
        let text = |s: &str| std::sync::Arc::<str>::from(s);
        vec![
            request(1, 1, Op::Get { key: text("k") }),
            request(0, 0, Op::Get { key: text("") }),
            request(
                u64::MAX,
                300,
                Op::Put {
                    key: text("ключ"),
                    value: "v".repeat(200).into(),
                },
            ),
            request(
                7,
                1 << 40,
                Op::Put {
                    key: text(""),
                    value: text(""),
                },
            ),
            request(
                9,
                2,
                Op::Append {
                    key: text("a"),
                    value: text("😀"),
                },
            ),
            request(
                9,
                3,
                Op::Append {
                    key: text("a"),
                    value: text(""),
                },
            ),
        ]
    }

    /// What [`with_command`] reads, owned again.
    fn read(bytes: &[u8]) -> Option<Request> {
        with_command(bytes, |command| {
            command.map(|command| {
                let op = match command.op {
                    OpRef::Get { key } => Op::Get { key: key.into() },
                    OpRef::Put { key, value } => Op::Put {
                        key: key.into(),
                        value: value.into(),
                    },
                    OpRef::Append { key, value } => Op::Append {
                        key: key.into(),
                        value: value.into(),
                    },
                };
                request(command.client.0, command.seq.0, op)
            })
        })
    }

    #[test]
    fn the_canonical_encoding_is_read_in_place() {
        for request in samples() {
            let bytes = request.to_bytes();
            assert_eq!(
                parse_canonical(&bytes),
                Some(Command::of(&request)),
                "{request}"
            );
        }
    }

    #[test]
    fn other_layouts_read_as_prost_reads_them() {
        let put = request(
            5,
            6,
            Op::Put {
                key: "k".into(),
                value: "v".into(),
            },
        )
        .to_bytes();
        let mut layouts: Vec<Vec<u8>> = vec![
            // seq before client
            vec![0x10, 6, 0x08, 5, 0x22, 0],
            // an overlong varint, then an unknown field after the op
            vec![0x08, 0x85, 0x00, 0x22, 0, 0x30, 1],
            // the op twice (prost merges or replaces), a Get with a value field
            vec![0x22, 3, 0x0a, 1, b'a', 0x22, 3, 0x12, 1, b'b'],
            vec![0x1a, 3, 0x12, 1, b'b'],
            // an empty key written out, a value before its key
            vec![0x2a, 5, 0x12, 1, b'x', 0x0a, 0],
            // truncated, not UTF-8, trailing garbage, a length past the end
            put[..put.len() - 1].to_vec(),
            vec![0x1a, 3, 0x0a, 1, 0xff],
            [put.as_slice(), &[0xff]].concat(),
            vec![0x1a, 9, 0x0a, 1, b'k'],
            vec![],
            vec![0x08, 1],
        ];
        // Every one-byte change of a canonical encoding.
        for request in samples() {
            let bytes = request.to_bytes();
            for position in 0..bytes.len() {
                for byte in [0x00, 0x01, 0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x7f, 0x80, 0xff] {
                    let mut changed = bytes.clone();
                    changed[position] = byte;
                    layouts.push(changed);
                }
            }
        }
        for bytes in layouts {
            assert_eq!(read(&bytes), Request::from_bytes(&bytes).ok(), "{bytes:?}");
        }
    }
}
