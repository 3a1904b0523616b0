//! JSON-RPC over stdio with LSP's `Content-Length` framing. lsp-server's own reader
//! ends the session at the first malformed message; this one answers it with a parse
//! error and reads on, so a broken client (or a fuzzer) cannot stop the server. One
//! reader thread (blocking on stdin) feeds the single-threaded server through a channel.

use lsp_server::Message;
use std::io::{BufRead, Read, Write};
use std::sync::mpsc::{channel, Receiver};

/// Larger messages are read and dropped (a 64 MiB document is not a recipe).
const MAX_MESSAGE: usize = 64 << 20;

pub enum Incoming {
    Message(Message),
    /// Not a JSON-RPC message: what was wrong, and the id when one could be read.
    Malformed {
        id: serde_json::Value,
        code: i32,
        error: String,
    },
}

/// Starts the reader; the channel closes when stdin does.
pub fn incoming() -> Receiver<Incoming> {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("lsp-reader".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            while let Some(frame) = read_frame(&mut input) {
                if tx.send(parse(frame)).is_err() {
                    break;
                }
            }
        })
        .ok();
    rx
}

/// The next frame's body, or why it has none; None at the end of input.
fn read_frame(input: &mut impl BufRead) -> Option<Result<Vec<u8>, String>> {
    let mut length: Option<Result<usize, String>> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if length.is_some() {
                break;
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad Content-Length {:?}", value.trim())),
                );
            }
        } else if length.is_none() {
            length = Some(Err(format!("not a header: {:?}", truncated(text))));
        }
    }
    let length = match length? {
        Ok(n) => n,
        Err(e) => return Some(Err(e)),
    };
    if length > MAX_MESSAGE {
        std::io::copy(&mut input.take(length as u64), &mut std::io::sink()).ok()?;
        return Some(Err(format!(
            "a message of {length} bytes is over the limit of {MAX_MESSAGE}"
        )));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body).ok()?;
    Some(Ok(body))
}

fn truncated(s: &str) -> String {
    s.chars().take(80).collect()
}

fn parse(frame: Result<Vec<u8>, String>) -> Incoming {
    const PARSE_ERROR: i32 = -32700;
    const INVALID_REQUEST: i32 = -32600;
    let body = match frame {
        Ok(b) => b,
        Err(error) => {
            return Incoming::Malformed {
                id: serde_json::Value::Null,
                code: PARSE_ERROR,
                error,
            }
        }
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Incoming::Malformed {
                id: serde_json::Value::Null,
                code: PARSE_ERROR,
                error: format!("not JSON: {e}"),
            }
        }
    };
    let id = value.get("id").cloned().unwrap_or_default();
    match serde_json::from_value::<Message>(value) {
        Ok(m) => Incoming::Message(m),
        Err(e) => Incoming::Malformed {
            id,
            code: INVALID_REQUEST,
            error: format!("not a JSON-RPC request, response or notification: {e}"),
        },
    }
}

/// Where answers go: stdout, one framed message at a time.
pub struct Outgoing;

impl Outgoing {
    pub fn send(&self, message: Message) {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        // A client that went away is noticed by the reader (stdin closes).
        let _ = message.write(&mut out);
    }

    /// An error answer to something that was not a request (`id` may be null).
    pub fn send_error(&self, id: serde_json::Value, code: i32, error: &str) {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": code, "message": error },
        })
        .to_string();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let _ = write!(out, "Content-Length: {}\r\n\r\n{body}", body.len());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &str) -> Vec<Result<Vec<u8>, String>> {
        let mut r = std::io::Cursor::new(input.as_bytes().to_vec());
        std::iter::from_fn(|| read_frame(&mut r)).collect()
    }

    #[test]
    fn frames_and_bad_frames() {
        let f = frames("Content-Length: 2\r\n\r\n{}Content-Length: x\r\n\r\ngarbage\r\n\r\nContent-Length: 1\r\n\r\n[");
        assert_eq!(f[0], Ok(b"{}".to_vec()));
        assert!(f[1].as_ref().unwrap_err().contains("bad Content-Length"));
        assert!(f[2].as_ref().unwrap_err().contains("not a header"));
        assert_eq!(f[3], Ok(b"[".to_vec()));
        assert!(matches!(
            parse(Ok(b"[".to_vec())),
            Incoming::Malformed { code: -32700, .. }
        ));
        assert!(matches!(
            parse(Ok(br#"{"jsonrpc":"2.0","method":5}"#.to_vec())),
            Incoming::Malformed { code: -32600, .. }
        ));
    }
}
