//! Classifier heads over the encoder's pooled features: the built-in sentiment and intent heads
//! (`built_in`, `sentiment`, `intent`) and every head trained with `custprofile.train_classifier` (`classifier`,
//! `training_set`, stored by `store`) are the same `Head` type, trained by the same code
//! (`train/`) and stored as the same JSON document. `zero_shot` classifies against labels
//! without training; `logistic` fits the churn weights.

pub mod built_in;
pub mod classifier;
pub mod intent;
pub mod logistic;
pub mod sentiment;
pub mod store;
pub mod token_store;
pub mod train;
pub mod training_set;
pub mod zero_shot;

use serde::{Deserialize, Serialize};

use crate::errors::{Error, Result};
use crate::numeric::{dot, log_softmax, softmax};
use crate::runtime::{self, Features, Hidden, Manifest};
use crate::text::{pooling, sentences};

/// Sentences scored per text at most, so that a huge text costs a bounded number of encoder runs
/// (reviews rarely have more than 30).
pub const MAX_SENTENCES: usize = 64;

/// Which pooled vectors feed the head.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The sentence embedding alone (384 values).
    Mean,
    /// Mean, max and [CLS] pooling side by side (3 x 384 values).
    MeanMaxCls,
    /// The sentence embedding and learnt attention pooling side by side ((1 + heads) x 384
    /// values): each attention head weighs the tokens by a query trained with the classifier,
    /// so the head can look at the words that decide the class instead of their average.
    Attention,
}

impl Pooling {
    pub fn parse(s: &str) -> Result<Self> {
        [Pooling::Mean, Pooling::MeanMaxCls, Pooling::Attention]
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "unknown pooling \"{s}\"; use \"mean\", \"mean_max_cls\" or \"attention\""
                ))
            })
    }

    /// The name options and stored heads use.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::MeanMaxCls => "mean_max_cls",
            Pooling::Attention => "attention",
        }
    }

    /// Length of the features computed once per text (see `fixed_features`).
    pub fn fixed_dim(self, dims: usize, encoder_layers: usize) -> usize {
        let own = if self == Pooling::MeanMaxCls {
            3 * dims
        } else {
            dims
        };
        own + (encoder_layers - 1) * dims
    }

    /// Length of the head's input: the fixed features, then under attention pooling `heads`
    /// attention pools.
    pub fn dim(self, dims: usize, heads: usize, encoder_layers: usize) -> usize {
        self.fixed_dim(dims, encoder_layers)
            + if self == Pooling::Attention {
                heads * dims
            } else {
                0
            }
    }

    /// The features of a text that do not depend on what a head learns: the pooled vectors of
    /// the last layer (under attention pooling the sentence embedding only), then the means of
    /// the `encoder_layers - 1` layers below it. The first `dims` values are the sentence
    /// embedding, as `embed_text` gives it. Only what the head reads is computed.
    pub fn fixed_features(self, h: &Hidden, dims: usize, encoder_layers: usize) -> Vec<f32> {
        let mut v = match self {
            Pooling::Mean | Pooling::Attention => pooling::mean(h.tokens, dims),
            Pooling::MeanMaxCls => {
                let f = Features::of(h.tokens, dims);
                [f.mean.as_slice(), &f.max, &f.cls].concat()
            }
        };
        for layer in &h.earlier[..encoder_layers - 1] {
            v.extend(pooling::mean(layer, dims));
        }
        v
    }
}

/// Encoder layers a head may read: the last one and those the encoder exposes below it.
pub fn max_encoder_layers(encoder: &Manifest) -> usize {
    1 + encoder.exposed_layers.len()
}

/// Heads stored before heads recorded their width were all trained on all-MiniLM-L6-v2.
fn minilm_dimensions() -> usize {
    384
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn one() -> usize {
    1
}

/// The learnt part of attention pooling.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attention {
    pub heads: usize,
    /// One query per head, `heads * dims` values.
    pub queries: Vec<f32>,
}

impl Attention {
    /// The attention-pooled vectors of one text's tokens and the attention weights behind them.
    pub fn pool(&self, tokens: &[f32], dim: usize) -> (Vec<f32>, Vec<f32>) {
        let weights = pooling::attention_weights(tokens, dim, &self.queries, self.heads);
        (pooling::attend(tokens, dim, &weights, self.heads), weights)
    }
}

/// How a text is scored: as one piece, or sentence by sentence with the class log-probabilities
/// of its sentences and of the whole text averaged (long reviews keep each opinion visible).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    Text,
    Sentences,
}

impl Scoring {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "text" => Ok(Scoring::Text),
            "sentences" => Ok(Scoring::Sentences),
            _ => Err(Error::invalid_parameter(format!(
                "unknown scoring \"{s}\"; use \"text\" or \"sentences\""
            ))),
        }
    }
}

/// A dense layer, `weights` row-major with one row per output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Layer {
    pub inputs: usize,
    pub outputs: usize,
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Layer {
    /// The weights and bias of the second class's logit less the first's, for a layer of two
    /// outputs: softmax over two classes is a logistic of that difference.
    pub fn logistic_of_two(&self) -> (Vec<f32>, f32) {
        let (first, second) = self.weights.split_at(self.inputs);
        (second.iter().zip(first).map(|(b, a)| b - a).collect(), self.bias[1] - self.bias[0])
    }

    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        self.weights
            .chunks_exact(self.inputs)
            .zip(&self.bias)
            .map(|(row, b)| b + dot(row, x))
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Head {
    pub name: String,
    /// The encoder whose features the head was trained on (its name), and the width of its
    /// vectors.
    pub encoder: String,
    #[serde(default = "minilm_dimensions")]
    pub dimensions: usize,
    pub pooling: Pooling,
    /// How many of the encoder's last layers feed the head: the last through `pooling`, each
    /// one below it through the mean of its tokens.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub encoder_layers: usize,
    /// The learnt queries, for attention pooling only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
    pub scoring: Scoring,
    pub classes: Vec<String>,
    /// Dense layers with ReLU between them: one layer is logistic regression, two an MLP.
    pub layers: Vec<Layer>,
    /// Each class is a label of its own that applies or not (one logit each, a sigmoid), rather
    /// than one class of several (softmax).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multi_label: bool,
}

impl Head {
    pub fn from_json(json: &str) -> Result<Self> {
        let head: Head = serde_json::from_str(json)
            .map_err(|e| Error::internal(format!("classifier head is malformed: {e}")))?;
        head.validate()?;
        Ok(head)
    }

    fn validate(&self) -> Result<()> {
        let dims = self.dimensions;
        let attention_ok = match (&self.attention, self.pooling) {
            (Some(a), Pooling::Attention) => a.heads > 0 && a.queries.len() == a.heads * dims,
            (None, Pooling::Attention) | (Some(_), _) => false,
            (None, _) => true,
        };
        if !attention_ok {
            return Err(Error::internal(format!(
                "classifier head \"{}\" has inconsistent attention queries",
                self.name
            )));
        }
        if self.encoder_layers == 0 || dims == 0 {
            return Err(Error::internal(format!(
                "classifier head \"{}\" reads more encoder layers than there are",
                self.name
            )));
        }
        let mut inputs = self.input_dim();
        for l in &self.layers {
            if l.inputs != inputs
                || l.weights.len() != l.inputs * l.outputs
                || l.bias.len() != l.outputs
            {
                return Err(Error::internal(format!(
                    "classifier head \"{}\" has inconsistent layers",
                    self.name
                )));
            }
            inputs = l.outputs;
        }
        if self.layers.is_empty() || inputs != self.classes.len() {
            return Err(Error::internal(format!(
                "classifier head \"{}\" does not end in one output per class",
                self.name
            )));
        }
        Ok(())
    }

    /// Approximate memory of the parsed head, for the backend's cache.
    pub fn approx_bytes(&self) -> usize {
        let floats: usize = self
            .layers
            .iter()
            .map(|l| l.weights.len() + l.bias.len())
            .sum::<usize>()
            + self.attention.as_ref().map_or(0, |a| a.queries.len());
        4 * floats + 256
    }

    pub fn input_dim(&self) -> usize {
        self.pooling.dim(
            self.dimensions,
            self.attention.as_ref().map_or(0, |a| a.heads),
            self.encoder_layers,
        )
    }

    /// The head's input for one text's hidden states, and the text's sentence embedding.
    pub fn input_of(&self, h: &Hidden) -> (Vec<f32>, Vec<f32>) {
        let dim = self.dimensions;
        let mut input = self.pooling.fixed_features(h, dim, self.encoder_layers);
        let embedding = input[..dim].to_vec();
        if let Some(a) = &self.attention {
            input.extend(a.pool(h.tokens, dim).0);
        }
        (input, embedding)
    }

    /// An ERROR naming both encoders unless the head was trained on `encoder`'s vectors.
    pub fn check_encoder(&self, encoder: &Manifest) -> Result<()> {
        if self.encoder != encoder.name {
            return Err(Error::new(
                pgrx::PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "classifier \"{}\" was trained on encoder {}, but custprofile.encoder is {}",
                    self.name, self.encoder, encoder.name
                ),
            )
            .hint(format!(
                "Retrain it with custprofile.train_classifier under {}, or SET custprofile.encoder = '{}'.",
                encoder.name, self.encoder
            )));
        }
        if self.dimensions != encoder.dimensions
            || self.encoder_layers > max_encoder_layers(encoder)
        {
            return Err(Error::internal(format!(
                "classifier \"{}\" does not fit encoder {}: its width or layers differ",
                self.name, encoder.name
            )));
        }
        Ok(())
    }

    /// The last layer's outputs for one feature vector: class logits.
    fn logits(&self, x: &[f32]) -> Vec<f32> {
        let mut h = x.to_vec();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if i + 1 < self.layers.len() {
                h.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
        h
    }

    /// Per class, what is averaged over a text's pieces: log-probabilities, or under
    /// multi_label each label's own logit.
    fn piece_scores(&self, x: &[f32]) -> Vec<f32> {
        let z = self.logits(x);
        if self.multi_label {
            z
        } else {
            log_softmax(&z)
        }
    }

    /// The pieces of a text that are encoded for this head: the text itself, and under sentence
    /// scoring its first `MAX_SENTENCES` sentences too when there is more than one (sentences
    /// past the whole text's token limit still count: a review's verdict is often at its end).
    pub fn pieces<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let mut pieces = vec![text];
        if self.scoring == Scoring::Sentences {
            let s = sentences::split(text);
            if s.len() > 1 {
                pieces.extend(s.into_iter().take(MAX_SENTENCES));
            }
        }
        pieces
    }

    /// Class probabilities of each text, all texts and their pieces encoded in one batched pass.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .predict_with_embeddings(texts)?
            .into_iter()
            .map(|(p, _)| p)
            .collect())
    }

    /// Class probabilities of each text together with its sentence embedding (what
    /// `embed_text` gives), from the same batched encoder pass.
    pub fn predict_with_embeddings(&self, texts: &[&str]) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
        self.check_encoder(&*runtime::current()?)?;
        let mut pieces = Vec::new();
        let mut spans = Vec::with_capacity(texts.len());
        for t in texts {
            let p = self.pieces(t);
            spans.push((pieces.len(), p.len()));
            pieces.extend(p);
        }
        let mut pooled = runtime::with_encoder(|e| e.encode_with(&pieces, |h| self.input_of(&h)))?;
        Ok(spans
            .iter()
            .map(|&(start, n)| {
                let own = &mut pooled[start..start + n];
                let embedding = std::mem::take(&mut own[0].1);
                let inputs: Vec<&[f32]> = own.iter().map(|(x, _)| x.as_slice()).collect();
                (self.probabilities(&inputs), embedding)
            })
            .collect())
    }

    /// Class probabilities of a text from the head inputs of its pieces (see `pieces`): summing
    /// to 1, or under multi_label each the probability that its label applies.
    pub fn probabilities(&self, piece_inputs: &[&[f32]]) -> Vec<f32> {
        let mut acc = vec![0f32; self.classes.len()];
        for x in piece_inputs {
            for (a, l) in acc.iter_mut().zip(self.piece_scores(x)) {
                *a += l;
            }
        }
        let n = piece_inputs.len().max(1) as f32;
        acc.iter_mut().for_each(|a| *a /= n);
        if self.multi_label {
            acc.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect()
        } else {
            softmax(&acc)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_forward_is_affine() {
        let l = Layer {
            inputs: 2,
            outputs: 1,
            weights: vec![2.0, -1.0],
            bias: vec![0.5],
        };
        assert_eq!(l.forward(&[1.0, 1.0]), vec![1.5]);
    }
}
