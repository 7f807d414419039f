//! Opening a TCP connection to `host:port`, as peers and clients both do.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connects to the first address `address` resolves to that answers within `timeout`,
/// with Nagle's algorithm off (frames are small and latency matters).
pub fn connect(address: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the address resolves to nothing");
    for resolved in address.to_socket_addrs()? {
        match TcpStream::connect_timeout(&resolved, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(error) => last = error,
        }
    }
    Err(last)
}
