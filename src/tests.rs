// In-database tests of the Rust side (`cargo pgrx test`): they call the SQL functions through
// SPI in a real backend with the real model. SQL-facing behaviour with expected output lives in
// tests/pg_regress.

use pgrx::prelude::*;

fn embed(text: &str) -> Vec<f32> {
    Spi::get_one_with_args::<Vec<f32>>("SELECT custprofile.embed_text($1)", &[text.into()])
        .unwrap()
        .unwrap()
}

/// Runs `f` and returns the SQLSTATE and message of the PostgreSQL ERROR it raised, if any.
fn error_of(f: impl FnOnce() + std::panic::UnwindSafe) -> Option<(PgSqlErrorCode, String)> {
    PgTryBuilder::new(|| {
        f();
        None
    })
    .catch_others(|e| match e {
        pg_sys::panic::CaughtError::PostgresError(r) => Some((r.sql_error_code(), r.message().to_string())),
        _ => None,
    })
    .execute()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[pg_test]
fn embedding_is_384_values_of_unit_length() {
    let v = embed("The delivery was quick and the package was intact.");
    assert_eq!(v.len(), 384);
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
}

#[pg_test]
fn batched_embeddings_match_single_calls_in_input_order() {
    let texts = [
        "Short.",
        "A much longer review that goes on about the kettle, the lid, the handle and the price.",
        "Short.",
        "",
        "Medium length text about shipping.",
        "Another one, a little longer than the medium one, about refunds.",
    ];
    // small batches so that several batches of different padded lengths run
    Spi::run("SET custprofile.batch_size = 2").unwrap();
    let rows: Vec<Vec<f32>> = Spi::connect(|c| {
        c.select("SELECT e FROM custprofile.embed_texts($1) AS e", None, &[texts.to_vec().into()])
            .unwrap()
            .map(|r| r.get::<Vec<f32>>(1).unwrap().unwrap())
            .collect()
    });
    assert_eq!(rows.len(), texts.len());
    for (t, batched) in texts.iter().zip(&rows) {
        let d = max_abs_diff(batched, &embed(t));
        assert!(d <= 1e-5, "batched and single differ by {d}");
    }
}

#[pg_test]
fn null_elements_give_null_rows() {
    let n = Spi::get_one::<i64>(
        "SELECT count(*) FILTER (WHERE e IS NULL) FROM custprofile.embed_texts(ARRAY['a', NULL, 'b']) AS e",
    )
    .unwrap()
    .unwrap();
    assert_eq!(n, 1);
}

#[pg_test]
fn long_texts_are_truncated_to_max_tokens() {
    let head = "the soup was cold and the waiter was rude ".repeat(40);
    let long = format!("{head}{}", "but the dessert was wonderful ".repeat(200));
    // beyond 256 tokens nothing changes the embedding
    assert!(max_abs_diff(&embed(&head), &embed(&long)) < 1e-5);
    Spi::run("SET custprofile.max_tokens = 16").unwrap();
    let short_a = embed(&head);
    let short_b = embed(&format!("{}and more", "the soup was cold and the waiter was rude ".repeat(3)));
    assert!(max_abs_diff(&short_a, &short_b) < 1e-5);
}

#[pg_test]
fn ten_megabyte_text_is_answered() {
    let s = Spi::get_one::<f32>("SELECT custprofile.sentiment(repeat('This blender is great. ', 450000))")
        .unwrap()
        .unwrap();
    assert!(s > 0.0, "score {s}");
}

/// 10 MB of distinct sentences: only the first 64 are scored one by one (and the whole text's
/// first 256 tokens), so the score equals that of the first 64 sentences and comes back quickly.
#[pg_test]
fn sentence_scoring_reads_at_most_64_sentences() {
    let (long, first) = Spi::get_two::<f32, f32>(
        "SELECT custprofile.sentiment(string_agg(format('Line %s of the review is fine.', i), ' ' ORDER BY i)),
                custprofile.sentiment(string_agg(format('Line %s of the review is fine.', i), ' ' ORDER BY i)
                                      FILTER (WHERE i <= 64))
           FROM generate_series(1, 300000) i",
    )
    .unwrap();
    assert_eq!(crate::heads::MAX_SENTENCES, 64);
    assert_eq!(long.unwrap(), first.unwrap());
}

#[pg_test]
fn sentiment_scores_are_ordered_and_bounded() {
    let score = |t: &str| {
        Spi::get_one_with_args::<f32>("SELECT custprofile.sentiment($1)", &[t.into()]).unwrap().unwrap()
    };
    let good = score("Absolutely love it, works perfectly and arrived early.");
    let bad = score("Terrible quality, it broke after two days and support never answered.");
    assert!((-1.0..=1.0).contains(&good) && (-1.0..=1.0).contains(&bad));
    assert!(good > 0.5, "good {good}");
    assert!(bad < -0.5, "bad {bad}");
    assert_eq!(score(""), 0.0);
}

#[pg_test]
fn missing_model_files_leave_the_backend_usable() {
    Spi::run("SET custprofile.model_dir = '/nonexistent/custprofile-models'").unwrap();
    let failed = PgTryBuilder::new(|| {
        embed("hello");
        false
    })
    .catch_others(|e| {
        if let pg_sys::panic::CaughtError::PostgresError(report) = &e {
            assert_eq!(report.sql_error_code(), PgSqlErrorCode::ERRCODE_UNDEFINED_FILE);
            let wanted = format!("/nonexistent/custprofile-models/{}/manifest.json", crate::settings::DEFAULT_ENCODER);
            assert!(report.message().contains(&wanted), "{}", report.message());
            assert!(report.hint().unwrap_or("").contains("scripts/setup.sh"));
        }
        true
    })
    .execute();
    assert!(failed);
    Spi::run("RESET custprofile.model_dir").unwrap();
    assert_eq!(embed("hello").len(), 384);
}

/// A model folder for the default encoder under a new temporary model directory, holding only
/// the installed manifest: the directory and the path of the model file to fake.
fn model_dir_with_manifest(what: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("custprofile-{what}-{}", std::process::id()));
    let encoder = crate::settings::DEFAULT_ENCODER;
    let model = dir.join(encoder);
    std::fs::create_dir_all(&model).unwrap();
    let installed = crate::settings::model_dir().join(encoder).join("manifest.json");
    std::fs::copy(installed, model.join("manifest.json")).unwrap();
    (dir, model.join("model.int8.onnx"))
}

#[pg_test]
fn an_encoder_without_a_sentiment_head_has_no_sentiment() {
    // the default encoder's files under a manifest that names no head
    let (dir, model) = model_dir_with_manifest("nohead");
    let folder = model.parent().unwrap().to_path_buf();
    let installed = crate::settings::model_dir().join(crate::settings::DEFAULT_ENCODER);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    manifest["heads"] = serde_json::json!({});
    std::fs::write(folder.join("manifest.json"), manifest.to_string()).unwrap();
    for file in ["model.int8.onnx", "tokenizer.json"] {
        std::os::unix::fs::symlink(installed.join(file), folder.join(file)).unwrap();
    }
    Spi::run(&format!("SET custprofile.model_dir = '{}'", dir.display())).unwrap();
    assert_eq!(embed("hello").len(), 384, "embeddings still work");
    let error = error_of(|| {
        Spi::get_one::<f32>("SELECT custprofile.sentiment('good')").unwrap();
    });
    let version = Spi::get_one::<pgrx::JsonB>("SELECT custprofile.model_version()").unwrap().unwrap().0;
    std::fs::remove_dir_all(&dir).ok();
    let (code, message) = error.expect("an error");
    assert_eq!(code, PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, "{message}");
    assert!(message.contains("has no built-in sentiment head"), "{message}");
    assert!(version["sentiment"].is_null(), "{version}");
}

#[pg_test]
fn a_model_file_with_the_wrong_sha256_is_not_loaded() {
    let (dir, model) = model_dir_with_manifest("badmodel");
    std::fs::write(model, b"not an onnx graph").unwrap();
    Spi::run(&format!("SET custprofile.model_dir = '{}'", dir.display())).unwrap();
    let code = error_of(|| {
        embed("hello");
    });
    std::fs::remove_dir_all(&dir).ok();
    let (code, message) = code.expect("an error");
    assert_eq!(code, PgSqlErrorCode::ERRCODE_DATA_CORRUPTED);
    assert!(message.contains("nothing was loaded"), "{message}");
}

#[pg_test]
fn errors_never_quote_the_input_text() {
    Spi::run("SET custprofile.model_dir = '/nonexistent'").unwrap();
    let message = PgTryBuilder::new(|| {
        Spi::get_one::<f32>("SELECT custprofile.sentiment('SECRET-CUSTOMER-TEXT-4711')").unwrap();
        String::new()
    })
    .catch_others(|e| match e {
        pg_sys::panic::CaughtError::PostgresError(r) => {
            format!("{} {:?} {:?}", r.message(), r.detail(), r.hint())
        }
        _ => String::new(),
    })
    .execute();
    assert!(!message.is_empty());
    assert!(!message.contains("4711"), "{message}");
}

#[pg_test]
fn an_unreadable_model_file_is_a_permission_error() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, file) = model_dir_with_manifest("unreadable");
    std::fs::write(&file, b"x").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    Spi::run(&format!("SET custprofile.model_dir = '{}'", dir.display())).unwrap();
    let code = error_of(|| {
        embed("hello");
    });
    std::fs::remove_dir_all(&dir).ok();
    let (code, message) = code.expect("an error");
    assert_eq!(code, PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, "{message}");
    assert!(message.contains("model.int8.onnx"), "{message}");
}
