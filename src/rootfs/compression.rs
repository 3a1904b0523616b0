//! Opening an archive whatever its compression, told from its first bytes (not its name).

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

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

/// The archive's tar stream, decompressed as needed. A compressed stream is decompressed
/// on a helper thread while nsr's thread writes files (GNU tar runs gzip as a second
/// process for the same reason); the thread ends with the stream and is joined.
pub fn open(input: Box<dyn Read + Send>) -> std::io::Result<(Compression, Box<dyn Read>)> {
    let mut reader = BufReader::with_capacity(BUFFER, input);
    let kind = Compression::sniff(reader.fill_buf()?);
    let decoder: Box<dyn Read + Send> = match kind {
        Compression::None => return Ok((kind, Box::new(reader))),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
    };
    Ok((kind, Box::new(Decompressing::start(decoder)?)))
}

/// Chunks of decompressed data handed over from the helper thread.
struct Decompressing {
    chunks: Option<Receiver<std::io::Result<Vec<u8>>>>,
    current: Vec<u8>,
    pos: usize,
    thread: Option<JoinHandle<()>>,
}

const CHUNK: usize = 1 << 20;

impl Decompressing {
    fn start(mut decoder: Box<dyn Read + Send>) -> std::io::Result<Decompressing> {
        let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(4);
        let thread = std::thread::Builder::new()
            .name("nsr-decompress".into())
            .spawn(move || loop {
                let mut chunk = vec![0u8; CHUNK];
                let mut filled = 0;
                while filled < CHUNK {
                    match decoder.read(&mut chunk[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                chunk.truncate(filled);
                let end = filled < CHUNK;
                // A closed channel means the reader stopped early: stop too.
                if tx.send(Ok(chunk)).is_err() || end {
                    return;
                }
            })?;
        Ok(Decompressing {
            chunks: Some(rx),
            current: Vec::new(),
            pos: 0,
            thread: Some(thread),
        })
    }
}

impl Read for Decompressing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.current.len() {
            let Some(rx) = &self.chunks else { return Ok(0) };
            match rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => {
                    self.chunks = None;
                    return Ok(0);
                }
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.chunks = None;
                    return Err(e);
                }
                Err(_) => {
                    self.chunks = None;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for Decompressing {
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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
