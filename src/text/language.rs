//! Which language a text is written in, by whatlang (trigram and alphabet statistics of 69
//! languages, no model files: about 25 µs for a review). Codes are ISO 639-1 ("zh", "en", "ja").
//! A text with fewer letters than it takes to tell has no language; Han, kana and Hangul carry
//! enough in one character, other scripts need MIN_LETTERS.

use std::cell::RefCell;
use std::rc::Rc;

use crate::errors::{Error, Result};
use crate::text::words;
use whatlang::dev::{raw_detect, RawLangInfo};
use whatlang::{Detector, Lang, Script};

/// Letters a text in an alphabetic script needs before its language is told ("ok", "A+" are
/// not English or Hungarian; "bad" is a guess, and is marked unreliable).
pub const MIN_LETTERS: usize = 3;
/// Candidates detect_language_scores lists.
const MAX_SCORES: usize = 5;

/// What the detector said of one text.
#[derive(Debug, PartialEq)]
pub struct Detection {
    pub language: &'static str,
    pub script: &'static str,
    /// whatlang's confidence that the first language is right, 0 to 1.
    pub confidence: f64,
    pub reliable: bool,
    /// The candidate languages and their scores, best first (one script, one language: 1.0).
    pub scores: Vec<(&'static str, f64)>,
}

/// The ISO 639-1 code of a whatlang language. Mandarin and Iranian Persian are individual
/// languages of the macrolanguages zh and fa, which is what a 639-1 code names.
pub fn iso_639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Cmn => "zh",
        Lang::Pes => "fa",
        other => isolang::Language::from_639_3(other.code())
            .and_then(|l| l.to_639_1())
            .unwrap_or(other.code()),
    }
}

/// Han, kana or Hangul: one such character already says which language group a text is in.
fn is_ideographic(c: char) -> bool {
    words::is_han(c) || matches!(c as u32, 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// Whether the text holds enough letters to tell its language.
fn long_enough(text: &str) -> bool {
    let mut letters = 0;
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        if is_ideographic(c) {
            return true;
        }
        letters += 1;
        if letters >= MIN_LETTERS {
            return true;
        }
    }
    false
}

/// Twenty widely used languages (roughly the top of W3Techs' ranking of the languages web
/// content is written in): when a detection among all 69 is unreliable (a short review:
/// "TOTAL WASTE OF TIME." comes out Afrikaans, a Russian one Bulgarian), it is made again among
/// these, as a customer is far likelier to write in one of them than in Uzbek or Tagalog.
const COMMON: [Lang; 20] = [
    Lang::Eng, Lang::Spa, Lang::Deu, Lang::Jpn, Lang::Fra, Lang::Por, Lang::Rus, Lang::Ita, Lang::Nld, Lang::Pol,
    Lang::Tur, Lang::Pes, Lang::Cmn, Lang::Vie, Lang::Ind, Lang::Ces, Lang::Kor, Lang::Ukr, Lang::Ara, Lang::Heb,
];

/// The languages a detection chooses among: all (an unreliable answer chosen again among the
/// common ones), or those the user named (custprofile.languages).
pub struct Languages {
    allowed: Option<Vec<Lang>>,
    detector: Detector,
    common: Option<Detector>,
}

impl Languages {
    pub fn all() -> Languages {
        Languages {
            allowed: None,
            detector: Detector::new(),
            common: Some(Detector::with_allowlist(COMMON.to_vec())),
        }
    }

    /// whatlang's answer, made again among the common languages when it is unreliable and the
    /// user named no languages.
    fn detect(&self, text: &str) -> Option<whatlang::Info> {
        let info = self.detector.detect(text)?;
        match &self.common {
            Some(common) if !info.is_reliable() => common.detect(text).or(Some(info)),
            _ => Some(info),
        }
    }

    /// A list of ISO 639-1 codes separated by commas; an unknown code is an ERROR 22023 that
    /// names the known ones.
    pub fn parse(list: &str) -> Result<Languages> {
        let mut allowed = Vec::new();
        for code in list
            .split(',')
            .map(|c| c.trim().to_lowercase())
            .filter(|c| !c.is_empty())
        {
            match Lang::all().iter().find(|l| iso_639_1(**l) == code) {
                Some(&lang) => allowed.push(lang),
                None => {
                    let mut known: Vec<&str> = Lang::all().iter().map(|l| iso_639_1(*l)).collect();
                    known.sort_unstable();
                    return Err(Error::invalid_parameter(format!(
                        "custprofile.languages: unknown language code \"{code}\""
                    ))
                    .hint(format!(
                        "Use ISO 639-1 codes separated by commas, from: {}.",
                        known.join(", ")
                    )));
                }
            }
        }
        if allowed.is_empty() {
            return Ok(Languages::all());
        }
        Ok(Languages {
            detector: Detector::with_allowlist(allowed.clone()),
            allowed: Some(allowed),
            common: None,
        })
    }

    fn allows(&self, lang: Lang) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(&lang))
    }
}

thread_local! {
    /// The parsed custprofile.languages, kept while the setting's text stays the same.
    static CURRENT: RefCell<Option<(String, Rc<Languages>)>> = const { RefCell::new(None) };
}

/// The languages custprofile.languages names (all when it is empty).
pub fn current(setting: Option<String>) -> Result<Rc<Languages>> {
    let key = setting.unwrap_or_default();
    CURRENT.with(|cell| {
        if let Some((k, l)) = cell.borrow().as_ref() {
            if *k == key {
                return Ok(l.clone());
            }
        }
        let parsed = Rc::new(Languages::parse(&key)?);
        *cell.borrow_mut() = Some((key, parsed.clone()));
        Ok(parsed)
    })
}

/// The language of a text, or None when it is too short to tell (or has no letters: emoji,
/// digits, punctuation).
pub fn detect(text: &str, languages: &Languages) -> Option<&'static str> {
    if !long_enough(text) {
        return None;
    }
    languages.detect(text).map(|info| iso_639_1(info.lang()))
}

/// The language of a text with the detector's confidence and its candidates.
pub fn detect_with_scores(text: &str, languages: &Languages) -> Option<Detection> {
    if !long_enough(text) {
        return None;
    }
    let info = languages.detect(text)?;
    let script = script_name(info.script());
    let scores = match raw_detect(text).lang_info {
        Some(RawLangInfo::MultiScript(raw)) => raw
            .scores
            .iter()
            .filter(|(lang, _)| languages.allows(*lang))
            .take(MAX_SCORES)
            .map(|&(lang, score)| (iso_639_1(lang), round3(score)))
            .collect(),
        _ => vec![(iso_639_1(info.lang()), 1.0)],
    };
    Some(Detection {
        language: iso_639_1(info.lang()),
        script,
        confidence: round3(info.confidence()),
        reliable: info.is_reliable(),
        scores,
    })
}

fn script_name(script: Script) -> &'static str {
    // whatlang calls Han "Mandarin"; the script is Han whichever language uses it. The name is
    // taken from whatlang's static list: Script::name borrows from the value
    if script == Script::Mandarin {
        return "Han";
    }
    Script::all().iter().find(|s| **s == script).map_or("Han", |s| s.name())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreliable_answers_are_chosen_again_among_common_languages() {
        assert_eq!(detect("TOTAL WASTE OF TIME.", &Languages::all()), Some("en"));
        assert_eq!(detect("Посылка пришла с опозданием на две недели.", &Languages::all()), Some("ru"));
        // the user's own list is taken as it is
        let named = Languages::parse("af, en").unwrap();
        assert_eq!(detect("TOTAL WASTE OF TIME.", &named), Some("af"));
    }

    #[test]
    fn short_and_letterless_texts_have_no_language() {
        for text in ["", "ok", "A+", "👍👍", "！！！", "12345", "。。。"] {
            assert_eq!(detect(text, &Languages::all()), None, "{text:?}");
        }
        assert_eq!(detect("好", &Languages::all()), Some("zh"));
    }

    #[test]
    fn reviews_get_their_iso_639_1_code() {
        assert_eq!(
            detect("物流很快，质量不错，就是价格有点贵。", &Languages::all()),
            Some("zh")
        );
        assert_eq!(
            detect("配送が遅かったです。", &Languages::all()),
            Some("ja")
        );
        assert_eq!(
            detect(
                "The kettle broke after two weeks, I want my money back.",
                &Languages::all()
            ),
            Some("en")
        );
        assert_eq!(
            detect("Sehr gute Qualität, schnelle Lieferung!", &Languages::all()),
            Some("de")
        );
        assert_eq!(
            detect("Доставка быстрая, качество отличное.", &Languages::all()),
            Some("ru")
        );
    }

    #[test]
    fn a_list_of_languages_narrows_the_choice() {
        let text = "Service stinks here!";
        assert_ne!(detect(text, &Languages::all()), Some("en"));
        let en_zh = Languages::parse("en, ZH").unwrap();
        assert_eq!(detect(text, &en_zh), Some("en"));
        assert!(detect_with_scores(text, &en_zh)
            .unwrap()
            .scores
            .iter()
            .all(|(l, _)| *l == "en" || *l == "zh"));
        let e = Languages::parse("en,xx").err().unwrap();
        assert!(e.message.contains("\"xx\"") && e.hint.unwrap().contains("zh"));
        assert!(Languages::parse(" , ").unwrap().allowed.is_none());
    }

    #[test]
    fn scores_list_candidates_best_first() {
        let d = detect_with_scores(
            "Livraison rapide, produit conforme à la description.",
            &Languages::all(),
        )
        .unwrap();
        assert_eq!(d.language, "fr");
        assert_eq!(d.script, "Latin");
        assert_eq!(d.scores[0].0, "fr");
        assert!(d.scores.windows(2).all(|w| w[0].1 >= w[1].1));
        let zh = detect_with_scores("质量很好", &Languages::all()).unwrap();
        assert_eq!((zh.script, zh.scores.clone()), ("Han", vec![("zh", 1.0)]));
    }
}
