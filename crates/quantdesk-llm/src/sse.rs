//! A Server-Sent Events reader: bytes in as they arrive (split anywhere, even inside a UTF-8
//! character or between `\r` and `\n`), the `data` of each complete event out.
//!
//! Lines end with `\n`, `\r\n` or `\r`; `data:` lines (one optional space after the colon) of one
//! event are joined with `\n`; a blank line ends an event; comments (`:`) and other fields are
//! skipped. OpenAI-compatible streams end with the event `[DONE]`, which the caller recognises.

/// Feeds bytes, yields events' data.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet ended.
    line: Vec<u8>,
    /// The data lines of the event being read.
    data: Vec<String>,
    /// The previous byte was `\r` (a following `\n` belongs to the same line end).
    after_cr: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `bytes`; returns the data of every event they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    /// The data of an event left open when the stream ended without its blank line.
    pub fn finish(&mut self) -> Option<String> {
        if !self.line.is_empty() {
            let mut out = Vec::new();
            self.end_line(&mut out);
        }
        (!self.data.is_empty()).then(|| std::mem::take(&mut self.data).join("\n"))
    }

    fn end_line(&mut self, out: &mut Vec<String>) {
        let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
        if line.is_empty() {
            if !self.data.is_empty() {
                out.push(std::mem::take(&mut self.data).join("\n"));
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        if field == "data" {
            self.data.push(value.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str =
        "data: {\"a\":\"你好\"}\n\n: keep-alive\n\nevent: x\ndata: line1\ndata:line2\r\n\r\ndata: [DONE]\n\n";

    #[test]
    fn events_come_out_whole_however_the_bytes_are_split() {
        let want = vec!["{\"a\":\"你好\"}".to_string(), "line1\nline2".into(), "[DONE]".into()];
        let bytes = STREAM.as_bytes();
        let mut p = SseParser::new();
        assert_eq!(p.push(bytes), want);
        for cut in 0..bytes.len() {
            let mut p = SseParser::new();
            let mut got = p.push(&bytes[..cut]);
            got.extend(p.push(&bytes[cut..]));
            assert_eq!(got, want, "cut at {cut}");
        }
        let mut p = SseParser::new();
        let got: Vec<String> = bytes.iter().flat_map(|b| p.push(std::slice::from_ref(b))).collect();
        assert_eq!(got, want, "one byte at a time");
    }

    #[test]
    fn an_unterminated_event_is_given_at_the_end() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: {\"x\":1}").is_empty());
        assert_eq!(p.finish().as_deref(), Some("{\"x\":1}"));
        assert_eq!(p.finish(), None);
        let mut p = SseParser::new();
        assert_eq!(p.push(b"data: a\r\rdata: b\r\r"), vec!["a".to_string(), "b".into()]);
    }
}
