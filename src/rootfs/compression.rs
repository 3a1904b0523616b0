//! Opening an archive whatever its compression, told from its first bytes (not its name).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

const BUFFER: usize = 1 << 20;

/// The archive's tar stream, decompressed as needed.
pub fn open(file: File) -> std::io::Result<(Compression, Box<dyn Read>)> {
    let mut reader = BufReader::with_capacity(BUFFER, file);
    let kind = Compression::sniff(reader.fill_buf()?);
    let stream: Box<dyn Read> = match kind {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(reader),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            BUFFER,
            zstd::stream::read::Decoder::with_buffer(reader)?,
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            BUFFER,
            liblzma::bufread::XzDecoder::new_multi_decoder(reader),
        )),
    };
    Ok((kind, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn told_from_the_content() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"\xfd7zXZ\0rest"), Compression::Xz);
        assert_eq!(Compression::sniff(b"usr/\0\0\0"), Compression::None);
    }
}
