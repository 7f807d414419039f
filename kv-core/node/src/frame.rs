//! Length-prefixed frames on a byte stream: a 4-byte big-endian length, then that many
//! bytes. Peers send one prost-encoded Raft message per frame; clients send one
//! envelope (see [`crate::wire`]) per frame.
//!
//! A reader names the largest frame it accepts. The buffer grows only as bytes arrive,
//! so a garbage length from the network costs no allocation of that size: the frame
//! fails when the stream ends or the limit is passed.

use std::io::{self, Read, Write};

/// The largest frame between peers: an InstallSnapshot carries the whole snapshot.
pub const MAX_PEER_FRAME_BYTES: usize = 256 << 20;

/// The largest frame between a client and a server (a request is at most a key of
/// 4 KiB and a value of 1 MiB, kv-core's default limits).
pub const MAX_CLIENT_FRAME_BYTES: usize = 4 << 20;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly between two frames.
    #[error("the connection closed")]
    Closed,
    /// The length prefix announces more than the reader accepts.
    #[error("a frame of {got} bytes is above the limit of {max}")]
    TooLarge {
        /// The announced length.
        got: usize,
        /// The reader's limit.
        max: usize,
    },
    /// The stream ended inside a frame, or failed.
    #[error("reading a frame: {0}")]
    Io(#[from] io::Error),
}

/// Writes one frame (the caller flushes).
pub fn write_frame(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame above 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(payload)
}

/// Reads one frame of at most `max` bytes.
pub fn read_frame(input: &mut impl Read, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        match input.read(&mut prefix[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(FrameError::TooLarge { got: len, max });
    }
    let mut payload = Vec::with_capacity(len.min(64 << 10));
    let read = input.take(len as u64).read_to_end(&mut payload)?;
    if read < len {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_back_to_back() {
        let mut stream = Vec::new();
        write_frame(&mut stream, b"hello").unwrap();
        write_frame(&mut stream, b"").unwrap();
        write_frame(&mut stream, &[7u8; 1000]).unwrap();
        let mut input = stream.as_slice();
        assert_eq!(read_frame(&mut input, 1000).unwrap(), b"hello");
        assert_eq!(read_frame(&mut input, 1000).unwrap(), b"");
        assert_eq!(read_frame(&mut input, 1000).unwrap(), vec![7u8; 1000]);
        assert!(matches!(
            read_frame(&mut input, 1000),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_before_reading_it() {
        let mut stream = Vec::new();
        write_frame(&mut stream, &[1u8; 10]).unwrap();
        assert!(matches!(
            read_frame(&mut stream.as_slice(), 9),
            Err(FrameError::TooLarge { got: 10, max: 9 })
        ));
    }

    #[test]
    fn a_stream_that_ends_inside_a_frame_is_an_error_not_a_close() {
        let mut stream = Vec::new();
        write_frame(&mut stream, b"abcdef").unwrap();
        for cut in [2, 4, 7] {
            let result = read_frame(&mut &stream[..cut], 100);
            assert!(matches!(result, Err(FrameError::Io(_))), "cut at {cut}");
        }
    }

    #[test]
    fn a_huge_announced_length_allocates_nothing_of_that_size() {
        let stream = [0xff, 0xff, 0xff, 0xf0, 1, 2, 3];
        let result = read_frame(&mut &stream[..], usize::MAX);
        assert!(matches!(result, Err(FrameError::Io(_))));
    }
}
