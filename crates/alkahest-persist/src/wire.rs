//! Byte-level encoding shared by the pool format and the compile crate's
//! cache payloads: LEB128 varints and a bounds-checked reader that reports
//! the offset of whatever is wrong. One implementation, so the two formats
//! cannot drift apart on what a valid varint is.

use crate::error::{Error, Result};

/// Append `v` as an unsigned LEB128 varint (7 bits a byte, low bits first).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Append a byte string as varint length + bytes.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A cursor over untrusted bytes. Every read is bounds-checked and fails
/// with [`Error::Malformed`] carrying the absolute file offset.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the file, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, whose first byte is at offset `base` of the
    /// file (0 for a buffer of its own).
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Absolute file offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A [`Error::Malformed`] at the current offset.
    pub fn malformed(&self, what: &'static str) -> Error {
        Error::Malformed {
            offset: self.offset(),
            what,
        }
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.malformed("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.malformed("length runs past the end of the data"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// An unsigned LEB128 varint of at most 10 bytes, in its shortest form.
    pub fn varint(&mut self) -> Result<u64> {
        let start = self.offset();
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && bits > 1 {
                return Err(Error::Malformed {
                    offset: start,
                    what: "varint overflows 64 bits",
                });
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(Error::Malformed {
                        offset: start,
                        what: "varint is not in its shortest form",
                    });
                }
                return Ok(v);
            }
        }
        Err(Error::Malformed {
            offset: start,
            what: "varint longer than 10 bytes",
        })
    }

    /// A varint length for a byte string, checked against `limit` and
    /// against the bytes that remain.
    pub fn len_prefixed(&mut self, what: &'static str, limit: u64) -> Result<&'a [u8]> {
        let n = self.varint()?;
        if n > limit {
            return Err(Error::LimitExceeded {
                what,
                value: n,
                limit,
            });
        }
        self.take(usize::try_from(n).map_err(|_| self.malformed("length too large"))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut r = Reader::new(&out, 0);
            assert_eq!(r.varint().unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn varint_rejects_bad_forms() {
        // Overlong zero, 11-byte run, 65-bit value, truncated.
        for bad in [
            &[0x80, 0x00][..],
            &[0xff; 11][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..],
            &[0x80][..],
        ] {
            assert!(matches!(
                Reader::new(bad, 0).varint(),
                Err(Error::Malformed { .. })
            ));
        }
    }
}
