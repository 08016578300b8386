//! `aws-chunked` bodies (`Content-Encoding: aws-chunked`), as S3 uploads send them.
//!
//! Signed form, one chunk: `hex-size;chunk-signature=<sig>\r\n<data>\r\n`, ending with a
//! 0-length chunk. Each chunk signature chains from the previous one, starting at the
//! request's seed signature. The trailer forms end with `name:value\r\n` trailer lines
//! (and, when signed, `x-amz-trailer-signature:<sig>`) and an empty line.

use aws_lc_rs::hmac;

use super::canonical::{push_scope, sha256_hex, EMPTY_SHA256};
use super::{
    format_amz_date, verify_hex_signature, PayloadHash, SigV4Error, SigV4Request, SigningKeyCache,
};

/// Longest chunk-header or trailer line accepted; real ones are under 100 bytes.
const MAX_LINE: usize = 4096;
/// Hex digits in a chunk size; 16 covers any u64.
const MAX_SIZE_DIGITS: usize = 16;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// The next line without its CRLF. A missing CRLF is truncation, unless the line is
    /// already longer than any valid one.
    fn line(&mut self) -> Result<&'a [u8], SigV4Error> {
        let rest = self.rest();
        let window = rest.get(..MAX_LINE.min(rest.len())).unwrap_or_default();
        match window.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                self.pos += i + 2;
                Ok(rest.get(..i).unwrap_or_default())
            }
            None if rest.len() >= MAX_LINE => Err(SigV4Error::MalformedChunk),
            None => Err(SigV4Error::IncompleteBody),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SigV4Error> {
        let rest = self.rest();
        let data = rest.get(..n).ok_or(SigV4Error::IncompleteBody)?;
        self.pos += n;
        Ok(data)
    }

    fn crlf(&mut self) -> Result<(), SigV4Error> {
        match self.rest() {
            [b'\r', b'\n', ..] => {
                self.pos += 2;
                Ok(())
            }
            [] | [b'\r'] => Err(SigV4Error::IncompleteBody),
            _ => Err(SigV4Error::MalformedChunk),
        }
    }
}

fn parse_size(hex: &[u8]) -> Result<usize, SigV4Error> {
    if hex.is_empty() || hex.len() > MAX_SIZE_DIGITS || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(SigV4Error::MalformedChunk);
    }
    let s = std::str::from_utf8(hex).map_err(|_| SigV4Error::MalformedChunk)?;
    let n = u64::from_str_radix(s, 16).map_err(|_| SigV4Error::MalformedChunk)?;
    usize::try_from(n).map_err(|_| SigV4Error::IncompleteBody)
}

/// Splits `size;chunk-signature=sig`.
fn parse_signed_header(line: &[u8]) -> Result<(usize, &str), SigV4Error> {
    let line = std::str::from_utf8(line).map_err(|_| SigV4Error::MalformedChunk)?;
    let (size, ext) = line.split_once(';').ok_or(SigV4Error::MalformedChunk)?;
    let sig = ext
        .strip_prefix("chunk-signature=")
        .ok_or(SigV4Error::MalformedChunk)?;
    if sig.len() != 64 {
        return Err(SigV4Error::MalformedChunk);
    }
    Ok((parse_size(size.as_bytes())?, sig))
}

struct Chain<'a> {
    key: hmac::Key,
    amz_date: String,
    scope: String,
    prev: &'a str,
}

impl<'a> Chain<'a> {
    fn check(&mut self, kind: &str, hashes: &[&str], sig: &'a str) -> Result<(), SigV4Error> {
        let mut sts = String::with_capacity(256);
        sts.push_str(kind);
        sts.push('\n');
        sts.push_str(&self.amz_date);
        sts.push('\n');
        sts.push_str(&self.scope);
        sts.push('\n');
        sts.push_str(self.prev);
        for h in hashes {
            sts.push('\n');
            sts.push_str(h);
        }
        verify_hex_signature(&self.key, sts.as_bytes(), sig)
            .map_err(|()| SigV4Error::ChunkSignatureMismatch)?;
        self.prev = sig;
        Ok(())
    }
}

/// Checks an `aws-chunked` body and returns the decoded payload.
///
/// For `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` every chunk signature is checked,
/// chained from the request's (already verified) seed signature; for
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` the framing is decoded and the trailers are
/// skipped (checksum trailers are the storage layer's business). The final 0-length
/// chunk is required, nothing may follow the terminator, and the decoded size must equal
/// `x-amz-decoded-content-length` when the request sent it.
pub fn decode_streaming_body(
    body: &[u8],
    req: &SigV4Request,
    secret_access_key: &str,
    keys: &SigningKeyCache,
) -> Result<Vec<u8>, SigV4Error> {
    let (signed, trailer) = match req.payload {
        PayloadHash::Streaming => (true, false),
        PayloadHash::StreamingTrailer => (true, true),
        PayloadHash::StreamingUnsignedTrailer => (false, true),
        _ => return Err(SigV4Error::NotStreaming),
    };
    let mut chain = if signed {
        let mut scope = String::with_capacity(48);
        push_scope(
            &mut scope,
            &req.scope.date,
            &req.scope.region,
            &req.scope.service,
        );
        Some(Chain {
            key: keys.signing_key(secret_access_key, &req.scope),
            amz_date: format_amz_date(req.amz_date),
            scope,
            prev: &req.signature,
        })
    } else {
        None
    };
    let mut out = Vec::with_capacity(
        req.decoded_content_length
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(body.len())
            .min(body.len()),
    );
    let mut cur = Cursor { buf: body, pos: 0 };
    loop {
        let line = cur.line()?;
        let size = match chain.as_mut() {
            Some(chain) => {
                let (size, sig) = parse_signed_header(line)?;
                let data = cur.rest().get(..size).ok_or(SigV4Error::IncompleteBody)?;
                chain.check(
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    &[EMPTY_SHA256, &sha256_hex(data)],
                    sig,
                )?;
                size
            }
            None => {
                // Chunk extensions are allowed by HTTP chunked framing; ignore them.
                let size_hex = line.split(|b| *b == b';').next().unwrap_or_default();
                parse_size(size_hex)?
            }
        };
        if size == 0 {
            break;
        }
        out.extend_from_slice(cur.take(size)?);
        cur.crlf()?;
    }
    if trailer {
        let mut canonical_trailers = String::new();
        let mut trailer_sig = None;
        loop {
            let line = cur.line()?;
            if line.is_empty() {
                break;
            }
            let line = std::str::from_utf8(line).map_err(|_| SigV4Error::MalformedChunk)?;
            let (name, value) = line.split_once(':').ok_or(SigV4Error::MalformedChunk)?;
            let name = name.trim().to_ascii_lowercase();
            if name == "x-amz-trailer-signature" {
                trailer_sig = Some(value.trim());
            } else {
                canonical_trailers.push_str(&name);
                canonical_trailers.push(':');
                canonical_trailers.push_str(value.trim());
                canonical_trailers.push('\n');
            }
        }
        if let Some(chain) = chain.as_mut() {
            let sig = trailer_sig.ok_or(SigV4Error::ChunkSignatureMismatch)?;
            chain.check(
                "AWS4-HMAC-SHA256-TRAILER",
                &[&sha256_hex(canonical_trailers.as_bytes())],
                sig,
            )?;
        }
    } else {
        cur.crlf()?;
    }
    if !cur.rest().is_empty() {
        return Err(SigV4Error::MalformedChunk);
    }
    if let Some(expected) = req.decoded_content_length {
        if u64::try_from(out.len()).ok() != Some(expected) {
            return Err(SigV4Error::DecodedLengthMismatch);
        }
    }
    Ok(out)
}
