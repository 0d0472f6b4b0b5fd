//! Turns a TOML deserialization error into a `ConfigError` that names the key. The toml
//! crate reports a byte span; this walks the parsed document to find the dotted path of the
//! key or value at that span (`faults.crash`, `workload[1].weight`).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::ConfigError;

/// The `ConfigError` for a failed parse of `text` from `origin`.
pub fn toml_error(origin: &str, text: &str, error: &toml::de::Error) -> ConfigError {
    let message = error.message().trim().to_string();
    let mut result = ConfigError::whole(origin, message);
    let Some(span) = error.span() else {
        return result;
    };
    result.position = Some(line_column(text, span.start));
    if let Ok(document) = DeTable::parse(text) {
        let mut path = Vec::new();
        if find_in_table(document.get_ref(), &span, &mut path) {
            result.key = Some(path.join("").trim_start_matches('.').to_string());
        }
    }
    // serde names an unknown field but not the table it was found in; the path now does.
    if result.message.starts_with("unknown field") {
        result.message = format!("unknown key ({})", result.message);
    }
    result
}

/// 1-based line and column of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |rest| rest.chars().count())
        + 1;
    (line, column)
}

fn contains(outer: &std::ops::Range<usize>, inner: &std::ops::Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// Pushes path segments down to the innermost key or value whose span holds `span`.
fn find_in_table(
    table: &DeTable<'_>,
    span: &std::ops::Range<usize>,
    path: &mut Vec<String>,
) -> bool {
    for (key, value) in table {
        if contains(&key.span(), span) {
            path.push(format!(".{}", key.get_ref()));
            return true;
        }
        if contains(&value.span(), span) || value_holds(value, span) {
            path.push(format!(".{}", key.get_ref()));
            find_in_value(value, span, path);
            return true;
        }
    }
    false
}

/// Whether any part of `value` (tables nested in arrays have spans of their own) holds `span`.
fn value_holds(value: &Spanned<DeValue<'_>>, span: &std::ops::Range<usize>) -> bool {
    match value.get_ref() {
        DeValue::Table(table) => table.iter().any(|(k, v)| {
            contains(&k.span(), span) || contains(&v.span(), span) || value_holds(v, span)
        }),
        DeValue::Array(array) => array
            .iter()
            .any(|item| contains(&item.span(), span) || value_holds(item, span)),
        _ => false,
    }
}

fn find_in_value(
    value: &Spanned<DeValue<'_>>,
    span: &std::ops::Range<usize>,
    path: &mut Vec<String>,
) {
    match value.get_ref() {
        DeValue::Table(table) => {
            find_in_table(table, span, path);
        }
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                if contains(&item.span(), span) || value_holds(item, span) {
                    path.push(format!("[{index}]"));
                    find_in_value(item, span, path);
                    return;
                }
            }
        }
        _ => {}
    }
}
