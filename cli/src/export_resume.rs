//! Where an earlier export to a file stopped, so `switchboard export --resume` can continue it.
//!
//! The last complete row of the file names the last log exported (its `id`); a row cut off by a
//! crash is truncated away first. JSONL files are read from the end; CSV files (whose quoted
//! cells may hold newlines) are scanned from the start, one record at a time. Both in constant
//! memory.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

use switchboard_logs_api::export_format::{CSV_COLUMNS, ExportFormat};

/// What an existing output file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Nothing: start from scratch (CSV needs its header).
    Empty,
    /// A CSV header and no row: start from the first row, without a new header.
    HeaderOnly,
    /// Rows up to the log with this id.
    After(String),
}

/// Reads where the export in `path` stopped, truncating a trailing partial row. A missing
/// file is [`Resume::Empty`].
pub fn last_row(path: &Path, format: ExportFormat) -> io::Result<Resume> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Resume::Empty),
        Err(e) => return Err(e),
    };
    match format {
        ExportFormat::Jsonl | ExportFormat::OpenAi => last_jsonl(&mut file),
        ExportFormat::Csv => last_csv(&mut file),
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The offset of the last `\n` before `end`, reading backwards in blocks.
fn last_newline_before(file: &mut File, end: u64) -> io::Result<Option<u64>> {
    const BLOCK: u64 = 64 * 1024;
    let mut block = vec![0u8; BLOCK as usize];
    let mut stop = end;
    while stop > 0 {
        let start = stop.saturating_sub(BLOCK);
        let len = (stop - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..len])?;
        if let Some(i) = block[..len].iter().rposition(|b| *b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        stop = start;
    }
    Ok(None)
}

fn last_jsonl(file: &mut File) -> io::Result<Resume> {
    let mut len = file.metadata()?.len();
    // A last line without its newline was cut off: drop it.
    let complete = match last_newline_before(file, len)? {
        Some(i) => i + 1,
        None => 0,
    };
    if complete < len {
        file.set_len(complete)?;
        len = complete;
    }
    if len == 0 {
        return Ok(Resume::Empty);
    }
    let start = match last_newline_before(file, len - 1)? {
        Some(i) => i + 1,
        None => 0,
    };
    let mut line = vec![0u8; (len - 1 - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    let row: Value = serde_json::from_slice(&line)
        .map_err(|e| invalid(format!("the last line is not a JSON record: {e}")))?;
    match row.get("id").and_then(Value::as_str) {
        Some(id) => Ok(Resume::After(id.to_owned())),
        None => Err(invalid("the last line has no string `id`".to_owned())),
    }
}

fn last_csv(file: &mut File) -> io::Result<Resume> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Resume::Empty);
    }
    file.seek(SeekFrom::Start(0))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::new(&mut *file));
    let headers = reader.byte_headers().map_err(io::Error::other)?.clone();
    if headers.len() != CSV_COLUMNS.len() || headers.get(0) != Some(b"id".as_slice()) {
        return Err(invalid(
            "the file is not a switchboard CSV export (its header differs)".to_owned(),
        ));
    }
    // (end offset, id) of the last two complete-looking records; the header counts as none.
    let mut last: (u64, Option<String>) = (reader.position().byte(), None);
    let mut before_last = last.clone();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.len() == CSV_COLUMNS.len() => {
                let id = record
                    .get(0)
                    .map(|id| String::from_utf8_lossy(id).into_owned());
                before_last = std::mem::replace(&mut last, (reader.position().byte(), id));
            }
            // A short or unreadable record can only be the cut-off last one.
            Ok(true) | Err(_) => break,
        }
    }
    drop(reader);
    let (end, id) = if last.0 < len {
        last
    } else if last.0 > 0 && byte_at(file, last.0 - 1)? == b'\n' {
        return Ok(resume_at(last.1));
    } else if last.1.is_none() {
        // A header without its newline: start again.
        (0, None)
    } else {
        // The last row reads whole but lacks its newline: it was cut in its last cell.
        before_last
    };
    file.set_len(end)?;
    Ok(if end == 0 {
        Resume::Empty
    } else {
        resume_at(id)
    })
}

fn resume_at(id: Option<String>) -> Resume {
    match id {
        Some(id) => Resume::After(id),
        None => Resume::HeaderOnly,
    }
}

fn byte_at(file: &mut File, offset: u64) -> io::Result<u8> {
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut byte)?;
    Ok(byte[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, content: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("switchboard-resume-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn jsonl_resumes_after_the_last_complete_line() {
        let path = temp(
            "a.jsonl",
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"mo",
        );
        assert_eq!(
            last_row(&path, ExportFormat::Jsonl).unwrap(),
            Resume::After("b".into())
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"
        );
        let empty = temp("e.jsonl", "{\"id\":\"a\"");
        assert_eq!(
            last_row(&empty, ExportFormat::Jsonl).unwrap(),
            Resume::Empty
        );
        assert_eq!(
            last_row(&path.with_extension("missing"), ExportFormat::Jsonl).unwrap(),
            Resume::Empty
        );
    }

    #[test]
    fn csv_resumes_after_the_last_complete_row() {
        let header = CSV_COLUMNS.join(",");
        let row = |id: &str| {
            format!(
                "{id},\"multi\nline\"{}\n",
                ",".repeat(CSV_COLUMNS.len() - 2)
            )
        };
        let path = temp("a.csv", &format!("{header}\n{}{}", row("a"), row("b")));
        assert_eq!(
            last_row(&path, ExportFormat::Csv).unwrap(),
            Resume::After("b".into())
        );
        for cut in [5, row("b").len() - 1] {
            let text = format!("{header}\n{}{}", row("a"), &row("b")[..cut]);
            let path = temp(&format!("b{cut}.csv"), &text);
            assert_eq!(
                last_row(&path, ExportFormat::Csv).unwrap(),
                Resume::After("a".into()),
                "cut at {cut}"
            );
            let kept = std::fs::read_to_string(&path).unwrap();
            assert_eq!(kept, format!("{header}\n{}", row("a")));
        }
        let only = temp("c.csv", &format!("{header}\n"));
        assert_eq!(
            last_row(&only, ExportFormat::Csv).unwrap(),
            Resume::HeaderOnly
        );
    }
}
