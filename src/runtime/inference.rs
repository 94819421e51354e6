//! Batched inference: tokenise, sort by length, pad each batch only to its own longest text, run
//! the encoder, pool. Identical texts in one call are encoded once. Query cancel and
//! statement_timeout are honoured between batches.

use std::collections::HashMap;

use ort::value::Tensor;

use super::Encoder;
use crate::errors::{Error, Result};
use crate::settings;
use crate::text::{pooling, token_prefix};

/// Sentence features of one text: mean, max and [CLS] pooling, each L2-normalised.
/// `mean` is the sentence embedding that sentence-transformers computes.
#[derive(Clone, Debug)]
pub struct Features {
    pub mean: Vec<f32>,
    pub max: Vec<f32>,
    pub cls: Vec<f32>,
}

impl Encoder {
    /// Token ids of one text, truncated as sentence-transformers does: at most `max_tokens`
    /// including [CLS] and [SEP].
    fn tokenize(&self, text: &str, max_tokens: usize) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(token_prefix(text, max_tokens), true)
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

    /// Features of every text, in input order.
    pub fn encode(&mut self, texts: &[&str]) -> Result<Vec<Features>> {
        let max_tokens = settings::max_tokens();
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

        let mut features: Vec<Option<Features>> = vec![None; ids.len()];
        for chunk in order.chunks(batch_size) {
            pgrx::check_for_interrupts!();
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, f) in chunk.iter().zip(self.run_batch(&batch)?) {
                features[i] = Some(f);
            }
        }
        Ok(slots
            .into_iter()
            .map(|s| features[s].clone().expect("every slot encoded"))
            .collect())
    }

    /// Runs one padded batch through the encoder and pools each row.
    fn run_batch(&mut self, seqs: &[&[u32]]) -> Result<Vec<Features>> {
        let rows = seqs.len();
        let cols = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut input_ids = vec![0i64; rows * cols];
        let mut mask = vec![0i64; rows * cols];
        for (r, seq) in seqs.iter().enumerate() {
            for (c, &id) in seq.iter().enumerate() {
                input_ids[r * cols + c] = id as i64;
                mask[r * cols + c] = 1;
            }
        }
        let shape = [rows as i64, cols as i64];
        let ids_tensor = Tensor::from_array((shape, input_ids))?;
        let mask_tensor = Tensor::from_array((shape, mask.clone()))?;
        let outputs = if self.wants_token_types {
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
        let (out_shape, hidden) = outputs["last_hidden_state"].try_extract_tensor::<f32>()?;
        let dim = self.spec.dimensions;
        if out_shape.len() != 3 || out_shape[0] as usize != rows || out_shape[1] as usize != cols
            || out_shape[2] as usize != dim
        {
            return Err(Error::internal(format!(
                "encoder returned shape {:?}, expected [{rows}, {cols}, {dim}]",
                &out_shape[..]
            )));
        }
        Ok((0..rows)
            .map(|r| {
                let (mean, max, cls) = pooling::pool(
                    &hidden[r * cols * dim..(r + 1) * cols * dim],
                    &mask[r * cols..(r + 1) * cols],
                    dim,
                );
                Features { mean, max, cls }
            })
            .collect())
    }
}
