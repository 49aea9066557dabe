//! Log lines: text or JSON, each inside the spans of its shard.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};

use crate::cli::LogFormat;

/// Installs the subscriber: `RUST_LOG` (default `info`), to stderr.
pub(crate) fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).fmt_fields(Replacing).init(),
    }
}

/// Text fields, where a field recorded again replaces its old value: a shard's span
/// records each new session (the JSON format replaces by itself).
#[derive(Debug, Default)]
struct Replacing;

impl<'w> FormatFields<'w> for Replacing {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> core::fmt::Result {
        DefaultFields::new().format_fields(writer, fields)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> core::fmt::Result {
        let mut added = String::new();
        DefaultFields::new().format_fields(Writer::new(&mut added), fields)?;
        for field in added.split(' ') {
            let Some((name, _)) = field.split_once('=') else { continue };
            current.fields = replace(&current.fields, name);
        }
        if !current.fields.is_empty() && !added.is_empty() {
            current.fields.push(' ');
        }
        current.fields.push_str(&added);
        Ok(())
    }
}

/// `fields` without the field `name` (a `name=value` word; the values qqgw records again
/// have no spaces).
fn replace(fields: &str, name: &str) -> String {
    let prefix = format!("{name}=");
    fields.split(' ').filter(|word| !word.starts_with(&prefix)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_field_recorded_again_replaces_the_old_value() {
        assert_eq!(super::replace("shard=0/4 fence=1:ab session=s1", "session"), "shard=0/4 fence=1:ab");
        assert_eq!(super::replace("shard=0/4", "session"), "shard=0/4");
    }
}
