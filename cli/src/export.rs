//! `switchboard export`: the export of `GET /api/export` from the command line, read straight
//! from the store at `logging.store`, with the same filter names, in constant memory, and with a
//! progress bar on a terminal.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use switchboard_store::{Filter, NON_FILTER_KEYS, Store};

use switchboard_logs_api::export_format::{
    self as export, ExportFormat, ExportQuery, ExportWriter,
};

use crate::export_resume::{self, Resume};
use crate::parquet_export::ParquetWriter;

/// The command's options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExportArgs {
    /// KEY=VALUE filters, as in GET /api/export (repeat for more; all must match).
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// jsonl, csv, openai (a fine-tuning / eval dataset of the successful chats), or parquet
    /// (the CSV columns, typed; needs --out).
    #[arg(long)]
    pub format: String,
    /// Output file (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// newest (default) or oldest first.
    #[arg(long)]
    pub order: Option<String>,
    /// Start after this cursor (a next_cursor of GET /api/logs).
    #[arg(long)]
    pub after: Option<String>,
    /// Continue the export in --out after its last complete row (same filters and order).
    #[arg(long)]
    pub resume: bool,
}

/// Why the command failed; the exit code follows the kind.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Bad arguments (a filter, the format, ...): exit 2.
    #[error("{0}")]
    Usage(String),
    /// The store or the output failed: exit 1.
    #[error("{0}")]
    Runtime(String),
}

impl ExportError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExportError::Usage(_) => 2,
            ExportError::Runtime(_) => 1,
        }
    }
}

/// Rows between two progress bar updates.
const PROGRESS_EVERY: u64 = 1_024;

/// Runs the export from the store at `store_url`; returns the number of rows written.
pub fn run(store_url: &str, args: &ExportArgs) -> Result<u64, ExportError> {
    let usage = ExportError::Usage;
    if args.format == "parquet" {
        return run_parquet(store_url, args);
    }
    let format = ExportFormat::parse(&args.format)
        .map_err(|e| usage(e.replace("or openai", "openai or parquet")))?;
    let mut query = ExportQuery {
        filter: parse_filters(&args.filters)?,
        order: match &args.order {
            Some(order) => export::parse_order(order).map_err(usage)?,
            None => Default::default(),
        },
        after: args.after.clone(),
    };
    if args.resume && (args.out.is_none() || args.after.is_some()) {
        return Err(usage(
            "--resume continues the file given with --out, and cannot be combined with --after"
                .into(),
        ));
    }
    let runtime = |what: &str| {
        let what = what.to_owned();
        move |e: switchboard_store::StoreError| ExportError::Runtime(format!("{what}: {e}"))
    };
    let mut store =
        switchboard_store::open(store_url).map_err(runtime("cannot open logging.store"))?;

    let mut header = true;
    if args.resume
        && let Some(path) = &args.out
    {
        let resume = export_resume::last_row(path, format)
            .map_err(|e| ExportError::Runtime(format!("cannot resume {}: {e}", path.display())))?;
        match resume {
            Resume::Empty => {}
            Resume::HeaderOnly => header = false,
            Resume::After(id) => {
                header = false;
                let cursor = store.cursor_of(&id).map_err(runtime("store"))?;
                query.after = Some(cursor.ok_or_else(|| {
                    ExportError::Runtime(format!(
                        "the last row of {} (log {id}) is not in the store",
                        path.display()
                    ))
                })?);
            }
        }
    }

    let progress = progress_bar(&mut store, &query)?;
    let out = output(args.out.as_ref(), args.resume)?;
    let mut writer = ExportWriter::new(format, BufWriter::with_capacity(256 * 1024, out), header)
        .map_err(|e| ExportError::Runtime(format!("cannot write the output: {e}")))?;
    let mut since_update = 0;
    let rows = export::run(&mut store, &query, &mut writer, &mut |_| {
        since_update += 1;
        if since_update == PROGRESS_EVERY {
            progress.inc(since_update);
            since_update = 0;
        }
    })
    .map_err(|e| ExportError::Runtime(format!("export failed: {e}")))?;
    writer
        .finish()
        .and_then(|mut out| out.flush())
        .map_err(|e| ExportError::Runtime(format!("cannot write the output: {e}")))?;
    progress.inc(since_update);
    progress.finish_and_clear();
    Ok(rows)
}

/// `--format parquet`: the whole matching set into the file of `--out`, one row group at a
/// time. A Parquet file has its index at the end, so it is not resumed: run it again.
fn run_parquet(store_url: &str, args: &ExportArgs) -> Result<u64, ExportError> {
    let Some(path) = &args.out else {
        return Err(ExportError::Usage(
            "--format parquet writes a file: give it with --out".into(),
        ));
    };
    if args.resume {
        return Err(ExportError::Usage(
            "--resume does not apply to parquet (the file's index is written at its end): export again".into(),
        ));
    }
    let query = ExportQuery {
        filter: parse_filters(&args.filters)?,
        order: match &args.order {
            Some(order) => export::parse_order(order).map_err(ExportError::Usage)?,
            None => Default::default(),
        },
        after: args.after.clone(),
    };
    let mut store = switchboard_store::open(store_url)
        .map_err(|e| ExportError::Runtime(format!("cannot open logging.store: {e}")))?;
    let progress = progress_bar(&mut store, &query)?;
    let file = File::create(path).map_err(|e| {
        ExportError::Runtime(format!("cannot open {} for writing: {e}", path.display()))
    })?;
    let failed = |e: String| ExportError::Runtime(format!("cannot write {}: {e}", path.display()));
    let mut writer = ParquetWriter::new(file).map_err(|e| failed(e.to_string()))?;
    let mut since_update = 0;
    store
        .for_each(
            &query.filter,
            query.order,
            query.after.as_deref(),
            &mut |record, _| {
                writer
                    .row(record)
                    .map_err(|e| switchboard_store::StoreError::Aborted(e.into()))?;
                since_update += 1;
                if since_update == PROGRESS_EVERY {
                    progress.inc(since_update);
                    since_update = 0;
                }
                Ok(())
            },
        )
        .map_err(|e| ExportError::Runtime(format!("export failed: {e}")))?;
    let rows = writer.rows();
    writer.finish().map_err(failed)?;
    progress.inc(since_update);
    progress.finish_and_clear();
    Ok(rows)
}

/// Reads `KEY=VALUE` filters; the error names the one at fault.
fn parse_filters(filters: &[String]) -> Result<Filter, ExportError> {
    let mut pairs = Vec::with_capacity(filters.len());
    for filter in filters {
        let Some((key, value)) = filter.split_once('=') else {
            return Err(ExportError::Usage(format!(
                "bad filter `{filter}`: expected KEY=VALUE, e.g. metadata.language=es"
            )));
        };
        if NON_FILTER_KEYS.contains(&key) {
            return Err(ExportError::Usage(format!(
                "bad filter `{key}`: not a filter (use --format, --after)"
            )));
        }
        pairs.push((key, value));
    }
    Filter::from_pairs(pairs).map_err(|e| ExportError::Usage(e.to_string()))
}

/// A bar over the matching rows on a terminal; hidden (and nothing counted) otherwise.
fn progress_bar(store: &mut Store, query: &ExportQuery) -> Result<ProgressBar, ExportError> {
    if !io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let bar = if query.after.is_some() {
        // Resumed: how many rows remain is not known up front.
        ProgressBar::new_spinner()
    } else {
        let total = store
            .count(&query.filter)
            .map_err(|e| ExportError::Runtime(format!("store: {e}")))?;
        ProgressBar::new(total)
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {human_pos}/{human_len} logs ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    Ok(bar)
}

fn output(path: Option<&PathBuf>, append: bool) -> Result<Box<dyn Write>, ExportError> {
    let Some(path) = path else {
        return Ok(Box::new(io::stdout().lock()));
    };
    let file: io::Result<File> = if append {
        OpenOptions::new().create(true).append(true).open(path)
    } else {
        File::create(path)
    };
    file.map(|f| Box::new(f) as Box<dyn Write>).map_err(|e| {
        ExportError::Runtime(format!("cannot open {} for writing: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_and_bad_ones_named() {
        let filter =
            parse_filters(&["metadata.lang=es=MX".to_owned(), "model=m".to_owned()]).unwrap();
        assert_eq!(filter.metadata, vec![("lang".into(), "es=MX".into())]);
        for (bad, named) in [
            ("colour=red", "`colour`"),
            ("nonsense", "`nonsense`"),
            ("fallback_used=maybe", "`fallback_used`"),
            ("limit=3", "`limit`"),
        ] {
            let error = parse_filters(&[bad.to_owned()]).unwrap_err();
            assert_eq!(error.exit_code(), 2);
            assert!(error.to_string().contains(named), "{error}");
        }
    }
}
