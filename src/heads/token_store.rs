//! The token vectors of every training text, kept for training attention pooling. Stored as
//! bfloat16 (the upper half of an f32: same range, 8 bits of mantissa), which halves the memory
//! of a large training set at a precision far below what changes a trained head.

use crate::errors::{Error, Result};
use pgrx::PgSqlErrorCode;

/// Token vectors kept at least (about 3 GB as bfloat16 with 384 dimensions); more when
/// maintenance_work_mem allows more, as for an index build.
pub const MIN_TOKEN_LIMIT: usize = 4_000_000;

/// The most token vectors of `dim` values a training run keeps: `MIN_TOKEN_LIMIT`, or what fits
/// in `maintenance_work_mem_bytes` when that is more.
pub fn token_limit(dim: usize, maintenance_work_mem_bytes: usize) -> usize {
    MIN_TOKEN_LIMIT.max(maintenance_work_mem_bytes / (2 * dim.max(1)))
}

/// ERROR 54000 for a training set of `tokens` tokens over `limit`.
pub fn too_many_tokens(tokens: usize, limit: usize) -> Error {
    Error::new(
        PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        format!("attention pooling keeps the token vectors of every training text: these texts have {tokens} tokens, more than the {limit} that fit"),
    )
    .hint("Raise maintenance_work_mem (2 bytes per dimension per token: SET maintenance_work_mem = '8GB' holds 10 million tokens of 384 dimensions), train on fewer or shorter texts (or lower custprofile.max_tokens), or use pooling \"mean_max_cls\".")
}

pub struct TokenStore {
    dim: usize,
    limit: usize,
    values: Vec<u16>,
    /// Where each row's tokens start, in tokens; one more entry than rows.
    offsets: Vec<usize>,
}

/// One text's token vectors as bfloat16, ready for `TokenStore::push`. Converting as each text
/// leaves the encoder keeps a chunk of texts from being held as f32 too.
pub fn bfloat16(tokens: &[f32]) -> Vec<u16> {
    tokens.iter().map(|&x| to_bf16(x)).collect()
}

fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    // round to nearest, ties to even
    ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) as u16
}

fn from_bf16(v: u16) -> f32 {
    f32::from_bits((v as u32) << 16)
}

impl TokenStore {
    /// A store for at most `limit` token vectors of `dim` values.
    pub fn new(dim: usize, limit: usize) -> Self {
        TokenStore { dim, limit, values: Vec::new(), offsets: vec![0] }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Appends one text's token vectors (`len * dim` values, from `bfloat16`).
    pub fn push(&mut self, tokens: &[u16]) -> Result<()> {
        let total = self.offsets.last().copied().unwrap_or(0) + tokens.len() / self.dim;
        if total > self.limit {
            return Err(too_many_tokens(total, self.limit));
        }
        self.values.extend_from_slice(tokens);
        self.offsets.push(total);
        Ok(())
    }

    /// The token vectors of row `i` as f32, `len * dim` values.
    pub fn row(&self, i: usize) -> Vec<f32> {
        self.values[self.offsets[i] * self.dim..self.offsets[i + 1] * self.dim].iter().map(|&v| from_bf16(v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_limit_grows_with_maintenance_work_mem_only() {
        assert_eq!(token_limit(384, 64 << 20), MIN_TOKEN_LIMIT);
        assert_eq!(token_limit(384, 8 << 30), (8usize << 30) / 768);
        let mut store = TokenStore::new(2, 3);
        store.push(&[0; 6]).unwrap();
        assert!(store.push(&[0; 2]).is_err(), "a fourth token is over the limit");
    }

    #[test]
    fn bfloat16_keeps_three_significant_digits() {
        for x in [0.0f32, 1.0, -2.5, 3.14159, 1e-3, -123.456] {
            let y = from_bf16(to_bf16(x));
            assert!((x - y).abs() <= x.abs() / 256.0, "{x} -> {y}");
        }
    }
}
