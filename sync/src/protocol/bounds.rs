//! What received automerge bytes would cost to load, measured before automerge loads them.
//!
//! `Automerge::load_incremental` inflates every DEFLATE-compressed column (and every compressed
//! change chunk) with no bound, and then walks every operation the run-length encoded columns
//! declare: a frame within [`super::frames::MAX_FRAME_BYTES`] can ask for gigabytes of memory
//! (DEFLATE reaches ~1000:1) or for billions of operations (an RLE run of 2^60 costs ten bytes).
//! [`measure`] walks the chunks of a payload the way automerge's storage format lays them out
//! (automerge 0.12, `rust/automerge/src/storage/`): the chunk header (magic, checksum, type, length),
//! then for a document chunk its actors, heads and the column metadata of its changes and ops, for a
//! change chunk its fixed fields and op column metadata. Each column is decoded only far enough to
//! count its rows, streaming: compressed columns are inflated into nothing, under the remaining
//! byte budget, so measuring never holds more than a small buffer whatever the bytes claim.
//!
//! Chunk types: document (0) and change (1) are what `save` and `save_after` produce; a
//! compressed change (2) is accepted under the same budget; bundles (3) are never sent by a
//! node and are refused.
//!
//! The budgets are per frame ([`FrameBudget`]): the sum over every payload of a frame.

use std::io::{self, Read};

/// Most bytes the payloads of one frame may occupy once inflated (their uncompressed chunks plus
/// every inflated column or compressed change).
pub const MAX_INFLATED_BYTES: u64 = 128 * 1024 * 1024;

/// Most rows (operations and changes, as the columns declare them) the payloads of one frame may
/// hold.
pub const MAX_ROWS: u64 = 4 * 1024 * 1024;

/// The first bytes of every automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Why received bytes were refused before loading.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    /// The bytes inflate beyond the byte budget.
    #[error("the changes inflate to more than {limit} bytes")]
    Inflated {
        /// The budget, bytes.
        limit: u64,
    },
    /// The columns declare more rows than the budget.
    #[error("the changes declare more than {limit} operations")]
    Rows {
        /// The budget, rows.
        limit: u64,
    },
    /// A chunk type nodes never send.
    #[error("unsupported automerge chunk type {0}")]
    ChunkType(u8),
    /// Not automerge's storage format.
    #[error("malformed automerge bytes: {0}")]
    Malformed(&'static str),
}

/// The budgets of one frame, and what its payloads have used so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameBudget {
    /// Byte budget (inflated).
    pub max_inflated_bytes: u64,
    /// Row budget.
    pub max_rows: u64,
    /// Inflated bytes measured so far.
    pub inflated_bytes: u64,
    /// Rows measured so far.
    pub rows: u64,
}

impl Default for FrameBudget {
    fn default() -> Self {
        FrameBudget::new(MAX_INFLATED_BYTES, MAX_ROWS)
    }
}

impl FrameBudget {
    /// A fresh budget.
    pub fn new(max_inflated_bytes: u64, max_rows: u64) -> Self {
        FrameBudget {
            max_inflated_bytes,
            max_rows,
            inflated_bytes: 0,
            rows: 0,
        }
    }

    fn add_bytes(&mut self, n: u64) -> Result<(), BoundsError> {
        self.inflated_bytes = self.inflated_bytes.saturating_add(n);
        if self.inflated_bytes > self.max_inflated_bytes {
            return Err(BoundsError::Inflated {
                limit: self.max_inflated_bytes,
            });
        }
        Ok(())
    }

    fn add_rows(&mut self, n: u64) -> Result<(), BoundsError> {
        self.rows = self.rows.saturating_add(n);
        if self.rows > self.max_rows {
            return Err(BoundsError::Rows {
                limit: self.max_rows,
            });
        }
        Ok(())
    }

    fn bytes_left(&self) -> u64 {
        self.max_inflated_bytes.saturating_sub(self.inflated_bytes)
    }

    fn rows_left(&self) -> u64 {
        self.max_rows.saturating_sub(self.rows)
    }
}

/// Measures one payload (concatenated chunks) against the frame's budget, adding what it costs.
/// Refuses it as soon as either budget is exceeded, without inflating further.
pub fn measure(bytes: &[u8], budget: &mut FrameBudget) -> Result<(), BoundsError> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut r = rest;
        let mut magic = [0u8; 4];
        read_exact(&mut r, &mut magic)?;
        if magic != MAGIC {
            return Err(BoundsError::Malformed("bad magic bytes"));
        }
        skip(&mut r, 4)?; // checksum
        let kind = byte(&mut r)?;
        let len =
            usize::try_from(uleb(&mut r)?).map_err(|_| BoundsError::Malformed("chunk length"))?;
        if len > r.len() {
            return Err(BoundsError::Malformed("truncated chunk"));
        }
        let (data, after) = r.split_at(len);
        budget.add_bytes((rest.len() - after.len()) as u64)?;
        match kind {
            0 => document(data, budget)?,
            1 => {
                let mut r = data;
                change_body(&mut r, budget)?;
            }
            2 => compressed_change(data, budget)?,
            other => return Err(BoundsError::ChunkType(other)),
        }
        rest = after;
    }
    Ok(())
}

/// A document chunk: actors, heads, change and op column metadata, then the column data.
fn document(data: &[u8], budget: &mut FrameBudget) -> Result<(), BoundsError> {
    let mut r = data;
    let actors = uleb(&mut r)?;
    for _ in 0..actors {
        let n = uleb(&mut r)?;
        skip(&mut r, n)?;
    }
    let heads = uleb(&mut r)?;
    skip(
        &mut r,
        heads
            .checked_mul(32)
            .ok_or(BoundsError::Malformed("heads"))?,
    )?;
    let change_cols = columns(&mut r)?;
    let op_cols = columns(&mut r)?;
    for cols in [change_cols, op_cols] {
        let mut rows = 0u64;
        for (spec, len) in cols {
            let len = usize::try_from(len).map_err(|_| BoundsError::Malformed("column length"))?;
            if len > r.len() {
                return Err(BoundsError::Malformed("truncated column"));
            }
            let (col, after) = r.split_at(len);
            rows = rows.max(column_rows(col, spec, budget)?);
            r = after;
        }
        budget.add_rows(rows)?;
    }
    // What is left (head indices) was counted with the chunk.
    Ok(())
}

/// A compressed change chunk: a DEFLATE stream of a change chunk's body.
fn compressed_change(data: &[u8], budget: &mut FrameBudget) -> Result<(), BoundsError> {
    let limit = budget.bytes_left();
    let mut inflated = Budgeted::new(flate2::read::DeflateDecoder::new(data), limit);
    let res = {
        let mut r = io::BufReader::new(&mut inflated);
        change_body(&mut r, budget).and_then(|()| drain(&mut r))
    };
    let used = inflated.used;
    let over = inflated.exceeded;
    res.map_err(|e| if over { over_bytes(budget) } else { e })?;
    budget.add_bytes(used)
}

/// A change chunk's body: dependencies, actor, seq, start op, time, message, other actors, op
/// column metadata, the columns, extra bytes.
fn change_body(r: &mut impl Read, budget: &mut FrameBudget) -> Result<(), BoundsError> {
    let deps = uleb(r)?;
    skip(
        r,
        deps.checked_mul(32)
            .ok_or(BoundsError::Malformed("dependencies"))?,
    )?;
    let actor = uleb(r)?;
    skip(r, actor)?;
    let _seq = uleb(r)?;
    let _start_op = uleb(r)?;
    let _time = uleb(r)?;
    let message = uleb(r)?;
    skip(r, message)?;
    let others = uleb(r)?;
    for _ in 0..others {
        let n = uleb(r)?;
        skip(r, n)?;
    }
    let cols = columns(r)?;
    let mut rows = 0u64;
    for (spec, len) in cols {
        if spec & DEFLATE_BIT != 0 {
            // Automerge refuses compressed columns inside a change.
            return Err(BoundsError::Malformed("compressed column in a change"));
        }
        let mut col = Read::take(&mut *r, len);
        let n = rle_rows(&mut col, spec & TYPE_BITS, budget.rows_left())?;
        drain(&mut col)?;
        if col.limit() != 0 {
            return Err(BoundsError::Malformed("truncated column"));
        }
        rows = rows.max(n);
    }
    budget.add_rows(rows)
}

const DEFLATE_BIT: u32 = 0b1000;
const TYPE_BITS: u32 = 0b0111;

/// Column metadata: a count, then (spec, length) pairs.
fn columns(r: &mut impl Read) -> Result<Vec<(u32, u64)>, BoundsError> {
    let n = uleb(r)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let spec = u32::try_from(uleb(r)?).map_err(|_| BoundsError::Malformed("column spec"))?;
        let len = uleb(r)?;
        out.push((spec, len));
    }
    Ok(out)
}

/// The rows of one column of a document chunk, inflating it under the budget if compressed.
fn column_rows(col: &[u8], spec: u32, budget: &mut FrameBudget) -> Result<u64, BoundsError> {
    let kind = spec & TYPE_BITS;
    if spec & DEFLATE_BIT == 0 {
        let mut r = col;
        let rows = rle_rows(&mut r, kind, budget.rows_left())?;
        return if r.is_empty() {
            Ok(rows)
        } else {
            Err(BoundsError::Malformed("trailing bytes in a column"))
        };
    }
    let limit = budget.bytes_left();
    let mut inflated = Budgeted::new(flate2::read::DeflateDecoder::new(col), limit);
    let res = {
        let mut r = io::BufReader::new(&mut inflated);
        rle_rows(&mut r, kind, budget.rows_left()).and_then(|rows| drain(&mut r).map(|()| rows))
    };
    let (used, over) = (inflated.used, inflated.exceeded);
    let rows = res.map_err(|e| if over { over_bytes(budget) } else { e })?;
    budget.add_bytes(used)?;
    Ok(rows)
}

fn over_bytes(budget: &FrameBudget) -> BoundsError {
    BoundsError::Inflated {
        limit: budget.max_inflated_bytes,
    }
}

/// The rows a column declares, by its type: booleans are alternating run lengths, raw values
/// have none (their metadata column counts them), every other type is RLE of LEB128 values
/// (strings: length-prefixed bytes). Stops with [`BoundsError::Rows`] past `max`.
fn rle_rows(r: &mut impl Read, kind: u32, max: u64) -> Result<u64, BoundsError> {
    let over = || BoundsError::Rows { limit: max };
    let mut rows = 0u64;
    match kind {
        // Value: raw bytes.
        7 => return drain(r).map(|()| 0),
        // Boolean: uleb run lengths, alternating false / true.
        4 => {
            while let Some(n) = try_uleb(r)? {
                rows = rows.saturating_add(n);
                if rows > max {
                    return Err(over());
                }
            }
            return Ok(rows);
        }
        _ => {}
    }
    let value = |r: &mut dyn Read| -> Result<(), BoundsError> {
        if kind == 5 {
            let n = uleb(r)?;
            skip(r, n)
        } else {
            uleb(r).map(|_| ())
        }
    };
    while let Some(count) = try_sleb(r)? {
        let n = if count > 0 {
            value(r)?;
            count.unsigned_abs()
        } else if count < 0 {
            let n = count.unsigned_abs();
            // Every literal is at least one byte: a short column ends this loop with an error.
            for _ in 0..n.min(max.saturating_add(1)) {
                value(r)?;
            }
            n
        } else {
            uleb(r)?
        };
        rows = rows.saturating_add(n);
        if rows > max {
            return Err(over());
        }
    }
    Ok(rows)
}

/// A reader that fails once more than `limit` bytes came out of it.
struct Budgeted<R> {
    inner: R,
    used: u64,
    limit: u64,
    exceeded: bool,
}

impl<R> Budgeted<R> {
    fn new(inner: R, limit: u64) -> Self {
        Budgeted {
            inner,
            used: 0,
            limit,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the limit tells "exactly at the limit" from "over it".
        let room = self.limit.saturating_sub(self.used).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.used += n as u64;
        if self.used > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("inflation budget exceeded"));
        }
        Ok(n)
    }
}

fn io_err(_: io::Error) -> BoundsError {
    BoundsError::Malformed("unreadable (truncated, or a bad DEFLATE stream)")
}

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), BoundsError> {
    r.read_exact(buf).map_err(io_err)
}

fn try_byte(r: &mut (impl Read + ?Sized)) -> Result<Option<u8>, BoundsError> {
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(b[0])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        }
    }
}

fn byte(r: &mut (impl Read + ?Sized)) -> Result<u8, BoundsError> {
    try_byte(r)?.ok_or(BoundsError::Malformed("truncated"))
}

/// An unsigned LEB128, or `None` at the end of the input.
fn try_uleb(r: &mut (impl Read + ?Sized)) -> Result<Option<u64>, BoundsError> {
    let Some(first) = try_byte(r)? else {
        return Ok(None);
    };
    let mut v = u64::from(first & 0x7f);
    let mut b = first;
    let mut shift = 7;
    while b & 0x80 != 0 {
        if shift > 63 {
            return Err(BoundsError::Malformed("LEB128 overflow"));
        }
        b = byte(r)?;
        v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        shift += 7;
    }
    Ok(Some(v))
}

fn uleb(r: &mut (impl Read + ?Sized)) -> Result<u64, BoundsError> {
    try_uleb(r)?.ok_or(BoundsError::Malformed("truncated"))
}

/// A signed LEB128, or `None` at the end of the input.
fn try_sleb(r: &mut (impl Read + ?Sized)) -> Result<Option<i64>, BoundsError> {
    let Some(first) = try_byte(r)? else {
        return Ok(None);
    };
    let mut v = i64::from(first & 0x7f);
    let mut b = first;
    let mut shift: u32 = 7;
    while b & 0x80 != 0 {
        if shift > 63 {
            return Err(BoundsError::Malformed("LEB128 overflow"));
        }
        b = byte(r)?;
        v |= i64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        shift += 7;
    }
    if shift < 64 && b & 0x40 != 0 {
        v |= -1i64 << shift;
    }
    Ok(Some(v))
}

fn skip(r: &mut (impl Read + ?Sized), n: u64) -> Result<(), BoundsError> {
    let copied = io::copy(&mut Read::take(&mut *r, n), &mut io::sink()).map_err(io_err)?;
    if copied != n {
        return Err(BoundsError::Malformed("truncated"));
    }
    Ok(())
}

fn drain(r: &mut impl Read) -> Result<(), BoundsError> {
    io::copy(r, &mut io::sink()).map(|_| ()).map_err(io_err)
}

#[cfg(test)]
mod tests;
