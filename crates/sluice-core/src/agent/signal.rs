//! The agent's signals (docs/agent-protocol.md) and how a reply carrying
//! them is read.

use serde::Deserialize;

/// One signal from the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Processing {
        progress: Option<f64>,
        message: Option<String>,
    },
    Done,
    Failed {
        reason: String,
    },
}

#[derive(Deserialize)]
struct RawSignal {
    status: String,
    progress: Option<f64>,
    message: Option<String>,
    reason: Option<String>,
}

/// Parses one JSON signal; unknown fields are ignored.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let raw: RawSignal =
        serde_json::from_str(text.trim()).map_err(|e| format!("not a signal ({e})"))?;
    match raw.status.as_str() {
        "processing" => Ok(Signal::Processing {
            progress: raw
                .progress
                .filter(|p| p.is_finite())
                .map(|p| p.clamp(0.0, 1.0)),
            message: raw.message,
        }),
        "done" => Ok(Signal::Done),
        "failed" => Ok(Signal::Failed {
            reason: raw
                .reason
                .or(raw.message)
                .unwrap_or_else(|| "the agent gave no reason".into()),
        }),
        other => Err(format!("unknown status {other:?}")),
    }
}

/// The longest ndjson line and the longest reply read; beyond them the
/// reply is refused as garbage, without being read whole into memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;
pub const MAX_REPLY_BYTES: usize = 16 << 20;

/// Above this a JSON reply is parsed only once it has ended: trying it at
/// every chunk would cost quadratic time on a large body.
const EARLY_PARSE_BYTES: usize = 64 << 10;

/// How a 2xx reply carries its signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFormat {
    /// `application/x-ndjson`: one JSON signal a line.
    Ndjson,
    /// Anything else: one JSON signal, however it is laid out.
    Json,
}

/// Reads a reply's signals as its chunks arrive, however they fall (a line,
/// or a UTF-8 character, may span chunks).
#[derive(Debug)]
pub struct ReplyReader {
    format: ReplyFormat,
    pending: Vec<u8>,
    total: usize,
}

impl ReplyReader {
    pub fn new(format: ReplyFormat) -> Self {
        Self {
            format,
            pending: Vec::new(),
            total: 0,
        }
    }

    /// Feeds a chunk; returns the signals it completed, or why the reply is
    /// refused (too long a line or reply).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Result<Signal, String>>, String> {
        self.total = self.total.saturating_add(chunk.len());
        if self.total > MAX_REPLY_BYTES {
            return Err(format!(
                "the agent's reply is longer than {} MiB",
                MAX_REPLY_BYTES >> 20
            ));
        }
        self.pending.extend_from_slice(chunk);
        match self.format {
            ReplyFormat::Ndjson => self.complete_lines(),
            ReplyFormat::Json => Ok(self.complete_json().into_iter().collect()),
        }
    }

    /// The reply ended: what is left counts as a last line (or the whole
    /// JSON reply).
    pub fn finish(&mut self) -> Option<Result<Signal, String>> {
        let rest = std::mem::take(&mut self.pending);
        let text = String::from_utf8_lossy(&rest);
        let text = text.trim();
        (!text.is_empty()).then(|| parse_signal(text))
    }

    fn complete_lines(&mut self) -> Result<Vec<Result<Signal, String>>, String> {
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if !text.is_empty() {
                out.push(parse_signal(text));
            }
        }
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(format!(
                "a line of the agent's reply is longer than {} MiB",
                MAX_LINE_BYTES >> 20
            ));
        }
        Ok(out)
    }

    /// A small JSON reply that already parses is the agent's answer, even
    /// if the connection is held open after it.
    fn complete_json(&mut self) -> Option<Result<Signal, String>> {
        let looks_closed =
            self.pending.iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
        if !looks_closed || self.pending.len() > EARLY_PARSE_BYTES {
            return None;
        }
        let signal = std::str::from_utf8(&self.pending)
            .ok()
            .and_then(|text| parse_signal(text).ok())?;
        self.pending.clear();
        Some(Ok(signal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_with_unknown_fields_ignored() {
        assert_eq!(
            parse_signal(
                r#"{"status":"processing","progress":0.4,"message":"resizing","extra":[1]}"#
            ),
            Ok(Signal::Processing {
                progress: Some(0.4),
                message: Some("resizing".into())
            })
        );
        assert_eq!(
            parse_signal(r#"{"status":"processing","progress":7}"#),
            Ok(Signal::Processing {
                progress: Some(1.0),
                message: None
            })
        );
        assert_eq!(parse_signal(r#"{"status":"done"}"#), Ok(Signal::Done));
        assert_eq!(
            parse_signal(r#"{"status":"failed","reason":"bad row"}"#),
            Ok(Signal::Failed {
                reason: "bad row".into()
            })
        );
        assert!(parse_signal(r#"{"status":"dancing"}"#).is_err());
        assert!(parse_signal("<html>").is_err());
    }

    #[test]
    fn ndjson_survives_any_chunking() {
        let stream = "{\"status\":\"processing\",\"progress\":0.5,\"message\":\"h\u{e9}\"}\n\n{\"status\":\"done\"}";
        let bytes = stream.as_bytes();
        for split in 1..bytes.len() {
            let mut reader = ReplyReader::new(ReplyFormat::Ndjson);
            let mut signals = reader.push(&bytes[..split]).unwrap();
            signals.extend(reader.push(&bytes[split..]).unwrap());
            signals.extend(reader.finish());
            assert_eq!(
                signals,
                vec![
                    Ok(Signal::Processing {
                        progress: Some(0.5),
                        message: Some("h\u{e9}".into())
                    }),
                    Ok(Signal::Done)
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_broken_line_is_reported_and_the_stream_goes_on() {
        let mut reader = ReplyReader::new(ReplyFormat::Ndjson);
        let signals = reader
            .push(b"{\"status\":\"proc\n{\"status\":\"done\"}\n")
            .unwrap();
        assert!(signals[0].is_err());
        assert_eq!(signals[1], Ok(Signal::Done));
    }

    #[test]
    fn a_pretty_printed_json_reply_is_read() {
        let mut reader = ReplyReader::new(ReplyFormat::Json);
        let pretty = "{\n  \"status\": \"failed\",\n  \"reason\": \"no such order\"\n}\n";
        let (first, second) = pretty.split_at(10);
        assert_eq!(reader.push(first.as_bytes()), Ok(vec![]));
        assert_eq!(
            reader.push(second.as_bytes()),
            Ok(vec![Ok(Signal::Failed {
                reason: "no such order".into()
            })])
        );
        assert_eq!(reader.finish(), None);
    }

    #[test]
    fn a_json_done_counts_before_the_connection_closes() {
        let mut reader = ReplyReader::new(ReplyFormat::Json);
        assert_eq!(
            reader.push(b"{\"status\":\"done\"}"),
            Ok(vec![Ok(Signal::Done)])
        );
    }

    #[test]
    fn a_reply_that_is_not_the_protocol_is_an_error_not_a_signal() {
        let mut reader = ReplyReader::new(ReplyFormat::Json);
        assert_eq!(reader.push(b"<html>oops</html>"), Ok(vec![]));
        assert!(reader.finish().unwrap().is_err());
    }

    /// Pushes `chunk` up to `times` times; why the reader refused, if it did.
    fn first_refusal(reader: &mut ReplyReader, chunk: &[u8], times: usize) -> Option<String> {
        (0..times).find_map(|_| reader.push(chunk).err())
    }

    #[test]
    fn overlong_lines_and_replies_are_refused_without_being_kept() {
        let mut reader = ReplyReader::new(ReplyFormat::Ndjson);
        let no_newline = vec![b'x'; 64 << 10];
        assert!(first_refusal(&mut reader, &no_newline, 17)
            .unwrap()
            .contains("line"));

        let mut reader = ReplyReader::new(ReplyFormat::Ndjson);
        let mut blank_line = vec![b' '; 1 << 19];
        blank_line.push(b'\n');
        assert!(first_refusal(&mut reader, &blank_line, 40)
            .unwrap()
            .contains("reply"));
        assert!(reader.pending.len() <= MAX_LINE_BYTES);
    }
}
