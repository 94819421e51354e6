//! Whether a piece of text concerns an aspect or topic: a built-in lexicon for the common retail
//! aspects, the aspect's own name and the words of its description, matched as whole words
//! (phrases as substrings) in lowercase.

/// Words that mark a sentence as concerning one of the common retail aspects.
pub fn lexicon(name: &str) -> &'static [&'static str] {
    match name.to_lowercase().as_str() {
        "price" | "prices" | "pricing" | "cost" | "value" => &[
            "price", "prices", "priced", "cost", "costs", "expensive", "cheap", "cheaper", "overpriced", "affordable",
            "value", "money", "worth", "bargain", "discount", "paid", "pay",
        ],
        "delivery" | "shipping" => &[
            "delivery", "delivered", "deliver", "shipping", "shipped", "ship", "courier", "arrived", "arrive", "arrival",
            "package", "parcel", "late", "dispatch", "dispatched", "postage", "tracking", "shipment",
        ],
        "quality" => &[
            "quality", "broke", "broken", "break", "breaks", "sturdy", "durable", "flimsy", "defective", "faulty",
            "solid", "cracked", "leaking", "leaks", "stopped working", "well made", "cheaply made", "fell apart",
        ],
        "support" | "customer service" | "service" => &[
            "support", "service", "staff", "helpful", "agent", "replied", "reply", "response", "answer", "answered",
            "emails", "email", "contact", "contacted", "rude", "friendly", "help",
        ],
        "returns" | "refunds" | "returns and refunds" | "refund" | "return" => &[
            "return", "returned", "returns", "returning", "refund", "refunds", "refunded", "exchange", "money back",
            "replacement",
        ],
        "features" | "product features" => &[
            "feature", "features", "function", "functions", "battery", "screen", "size", "design", "settings", "sound",
            "easy to use", "app", "button", "buttons",
        ],
        _ => &[],
    }
}

/// The terms of an aspect: its lexicon, its name and its description's comma-separated words.
pub fn terms(name: &str, description: Option<&str>) -> Vec<String> {
    let mut t: Vec<String> = lexicon(name).iter().map(|s| s.to_string()).collect();
    t.push(name.to_lowercase());
    if let Some(d) = description {
        t.extend(d.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()));
    }
    t.sort();
    t.dedup();
    t
}

/// A text in lowercase with its words.
pub struct Words {
    lower: String,
    words: Vec<String>,
}

impl Words {
    pub fn of(text: &str) -> Words {
        let lower = text.to_lowercase();
        let words = lower
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        Words { lower, words }
    }

    /// How many of the terms the text contains.
    pub fn mentions(&self, terms: &[String]) -> usize {
        terms
            .iter()
            .filter(|t| if t.contains(' ') { self.lower.contains(t.as_str()) } else { self.words.contains(t) })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_match_whole_words_and_phrases() {
        let delivery = terms("delivery", None);
        assert_eq!(Words::of("It arrived late, the parcel was wet.").mentions(&delivery), 3);
        assert_eq!(Words::of("Delightful").mentions(&delivery), 0, "no prefix matches");
        let own = terms("setup", Some("instructions, assembly manual"));
        assert_eq!(Words::of("The assembly manual was missing").mentions(&own), 1);
        assert_eq!(Words::of("It stopped working").mentions(&terms("quality", None)), 1);
    }
}
