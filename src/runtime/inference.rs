//! Batched inference: tokenise, sort by length, pad each batch only to its own longest text, run
//! the encoder, pool. Identical texts in one call are encoded once. Query cancel and
//! statement_timeout are honoured between batches.

use std::collections::HashMap;

use ort::value::Tensor;

use super::Encoder;
use crate::errors::{Error, Result};
use crate::settings;
use crate::text::{pii, pooling, token_prefix};

/// Padded tokens per encoder run. Measured on one thread with the int8 graph: batches help short
/// texts (8 texts of 10 tokens run twice as fast as one by one, 3 of 24 tokens 1.3 times) and hurt
/// long ones (4 texts of 64 tokens run 14% slower than apart), and the gain peaks at 64 to 128
/// padded tokens per run whatever the length, so a batch stops growing at this many.
const TOKENS_PER_BATCH: usize = 96;

/// Splits indices sorted by length into batches of at most `batch_size` rows and
/// `TOKENS_PER_BATCH` padded tokens whose longest member is at most a quarter (plus 8 tokens)
/// longer than the shortest: every row is padded to the longest, so one long review must not
/// drag a batch of short sentences to its length.
pub fn length_buckets<'a>(
    sorted: &'a [usize],
    len: impl Fn(usize) -> usize,
    batch_size: usize,
) -> Vec<&'a [usize]> {
    let mut buckets = Vec::new();
    let mut start = 0;
    while start < sorted.len() {
        let limit = len(sorted[start]) * 5 / 4 + 8;
        let mut end = start + 1;
        while end < sorted.len()
            && end - start < batch_size
            && len(sorted[end]) <= limit
            && (end - start + 1) * len(sorted[end]) <= TOKENS_PER_BATCH
        {
            end += 1;
        }
        buckets.push(&sorted[start..end]);
        start = end;
    }
    buckets
}

/// One text's hidden states, its real tokens only (`len * dim` values each): the last layer's
/// token vectors and those of the earlier layers the encoder exposes, nearest the top first.
pub struct Hidden<'a> {
    pub tokens: &'a [f32],
    pub earlier: Vec<&'a [f32]>,
}

/// Sentence features of one text: mean, max and [CLS] pooling of its last layer, each
/// L2-normalised. `mean` is the sentence embedding that sentence-transformers computes.
#[derive(Clone, Debug)]
pub struct Features {
    pub mean: Vec<f32>,
    pub max: Vec<f32>,
    pub cls: Vec<f32>,
}

impl Features {
    /// The features of one text's token vectors (`len * dim` values).
    pub fn of(tokens: &[f32], dim: usize) -> Self {
        let (mean, max, cls) = pooling::pool(tokens, dim);
        Features { mean, max, cls }
    }
}

impl Encoder {
    /// Token ids of one text after the encoder's input prefix, truncated as
    /// sentence-transformers does: at most `max_tokens` including the start and end tokens.
    fn tokenize(&self, text: &str, max_tokens: usize) -> Result<Vec<u32>> {
        let masked;
        let text = if settings::mask_pii() {
            masked = pii::mask(token_prefix(text, max_tokens));
            masked.as_str()
        } else {
            text
        };
        let prefixed;
        let text = if self.manifest.input_prefix.is_empty() {
            token_prefix(text, max_tokens)
        } else {
            prefixed = format!("{}{}", self.manifest.input_prefix, token_prefix(text, max_tokens));
            prefixed.as_str()
        };
        let encoding = self
            .tokenizer
            .encode(text, true)
            // the tokenizer's own message may quote the input: keep it out of the log
            .map_err(|_| Error::internal("the tokenizer could not encode an input text"))?;
        let mut ids = encoding.get_ids().to_vec();
        if ids.len() > max_tokens {
            let sep = *ids.last().expect("non-empty");
            ids.truncate(max_tokens - 1);
            ids.push(sep);
        }
        Ok(ids)
    }

    /// The most tokens read of one text: custprofile.max_tokens within the encoder's own limit.
    fn max_tokens(&self) -> usize {
        settings::max_tokens().min(self.manifest.max_tokens)
    }

    /// How many tokens the encoder reads of all these texts together (the same truncation as
    /// `encode_with`): what a training run will hold before it starts.
    pub fn total_tokens(&self, texts: &[&str]) -> Result<usize> {
        let max_tokens = self.max_tokens();
        let mut total = 0;
        for (i, t) in texts.iter().enumerate() {
            if i % 1024 == 0 {
                pgrx::check_for_interrupts!();
            }
            total += self.tokenize(t, max_tokens)?.len();
        }
        Ok(total)
    }

    /// Features of every text, in input order.
    pub fn encode(&mut self, texts: &[&str]) -> Result<Vec<Features>> {
        let dim = self.manifest.dimensions;
        self.encode_with(texts, |h| Features::of(h.tokens, dim))
    }

    /// `pool` applied to the hidden states of every text, in input order. Token vectors live
    /// only for their batch: what a caller keeps is what `pool` returns.
    pub fn encode_with<T: Clone>(&mut self, texts: &[&str], mut pool: impl FnMut(Hidden) -> T) -> Result<Vec<T>> {
        let max_tokens = self.max_tokens();
        let batch_size = settings::batch_size();

        // one slot per distinct text
        let mut slot_of: HashMap<&str, usize> = HashMap::new();
        let mut distinct: Vec<&str> = Vec::new();
        let slots: Vec<usize> = texts
            .iter()
            .map(|&t| {
                *slot_of.entry(t).or_insert_with(|| {
                    distinct.push(t);
                    distinct.len() - 1
                })
            })
            .collect();

        let mut ids = Vec::with_capacity(distinct.len());
        for t in &distinct {
            ids.push(self.tokenize(t, max_tokens)?);
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());

        let mut features: Vec<Option<T>> = vec![None; ids.len()];
        for chunk in length_buckets(&order, |i| ids[i].len(), batch_size) {
            pgrx::check_for_interrupts!();
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, f) in chunk.iter().zip(self.run_batch(&batch, &mut pool)?) {
                features[i] = Some(f);
            }
        }
        Ok(slots
            .into_iter()
            .map(|s| features[s].clone().expect("every slot encoded"))
            .collect())
    }

    /// Runs one padded batch through the encoder and pools each row's real tokens.
    fn run_batch<T>(&mut self, seqs: &[&[u32]], pool: &mut impl FnMut(Hidden) -> T) -> Result<Vec<T>> {
        let rows = seqs.len();
        let cols = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut input_ids = vec![0i64; rows * cols];
        let mut mask = vec![0i64; rows * cols];
        // padding sits at the end of each row, so a row's real tokens are its first seq.len()
        for (r, seq) in seqs.iter().enumerate() {
            for (c, &id) in seq.iter().enumerate() {
                input_ids[r * cols + c] = id as i64;
                mask[r * cols + c] = 1;
            }
        }
        let shape = [rows as i64, cols as i64];
        let ids_tensor = Tensor::from_array((shape, input_ids))?;
        let mask_tensor = Tensor::from_array((shape, mask))?;
        let outputs = if self.manifest.token_type_ids {
            let types = Tensor::from_array((shape, vec![0i64; rows * cols]))?;
            self.session.run(ort::inputs![
                "input_ids" => ids_tensor,
                "attention_mask" => mask_tensor,
                "token_type_ids" => types
            ])?
        } else {
            self.session
                .run(ort::inputs!["input_ids" => ids_tensor, "attention_mask" => mask_tensor])?
        };
        let dim = self.manifest.dimensions;
        let mut layers = Vec::with_capacity(1 + self.earlier_layers.len());
        for name in std::iter::once("last_hidden_state").chain(self.earlier_layers.iter().map(String::as_str)) {
            let (out_shape, values) = outputs[name].try_extract_tensor::<f32>()?;
            if out_shape.len() != 3 || out_shape[0] as usize != rows || out_shape[1] as usize != cols
                || out_shape[2] as usize != dim
            {
                return Err(Error::internal(format!(
                    "encoder output {name} has shape {:?}, expected [{rows}, {cols}, {dim}]",
                    &out_shape[..]
                )));
            }
            layers.push(values);
        }
        Ok(seqs
            .iter()
            .enumerate()
            .map(|(r, seq)| {
                let real = r * cols * dim..(r * cols + seq.len()) * dim;
                pool(Hidden { tokens: &layers[0][real.clone()], earlier: layers[1..].iter().map(|l| &l[real.clone()]).collect() })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::length_buckets;

    #[test]
    fn long_texts_do_not_share_a_batch_with_short_ones() {
        let lens = [5, 6, 7, 9, 180, 200, 30, 31];
        let mut order: Vec<usize> = (0..lens.len()).collect();
        order.sort_by_key(|&i| lens[i]);
        let buckets = length_buckets(&order, |i| lens[i], 32);
        let as_lens: Vec<Vec<usize>> = buckets.iter().map(|b| b.iter().map(|&i| lens[i]).collect()).collect();
        assert_eq!(as_lens, vec![vec![5, 6, 7, 9], vec![30, 31], vec![180], vec![200]]);
        // and the batch size caps a bucket
        let same = [10; 5];
        let order: Vec<usize> = (0..5).collect();
        assert_eq!(length_buckets(&order, |i| same[i], 2).len(), 3);
    }
}
