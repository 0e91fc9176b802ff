//! The on-disk spool: records wait here, in order, while Redis (or the store) cannot take them.
//!
//! A directory of append-only segment files (`<sequence>.jsonl`, one record per line; serde_json
//! never writes a raw newline inside a record). New records go to the newest segment; replay
//! reads the oldest first and deletes a segment once every line of it was delivered. A crash in
//! the middle of a replay sends that segment again; the consumer is idempotent on `id`.
//! Past `max_bytes` in all, new records are refused (the caller counts them as dropped).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::SinkError;

/// Largest single segment before a new one starts.
const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SinkError + '_ {
    move |source| SinkError::Spool {
        path: path.to_owned(),
        source,
    }
}

/// An append-only, size-capped queue of records on disk.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Segments, oldest first, with their sizes.
    segments: Vec<(u64, u64)>,
    writer: Option<(u64, File)>,
    /// Records of the oldest segment already delivered (kept across failed replays).
    delivered: usize,
}

/// One segment's records, read for replay.
pub struct Segment {
    /// Its sequence number (pass to [`Spool::remove`] once delivered).
    pub sequence: u64,
    /// Its records, in order.
    pub records: Vec<String>,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, picking up segments left by an earlier run.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SinkError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut segments = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name();
            let Some(sequence) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".jsonl"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let size = entry.metadata().map_err(io_error(&entry.path()))?.len();
            segments.push((sequence, size));
        }
        segments.sort_unstable();
        Ok(Spool {
            dir: dir.to_owned(),
            max_bytes,
            segments,
            writer: None,
            delivered: 0,
        })
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|(_, size)| size).sum()
    }

    /// True when no record waits.
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|(_, size)| *size == 0)
    }

    fn path(&self, sequence: u64) -> PathBuf {
        self.dir.join(format!("{sequence:020}.jsonl"))
    }

    /// Appends records in order; returns how many fit under the cap (the rest are refused,
    /// from the first that did not fit on).
    pub fn append(&mut self, records: &[String]) -> Result<usize, SinkError> {
        let mut used = self.bytes();
        let mut buffer = Vec::new();
        let mut accepted = 0;
        for record in records {
            let size = record.len() as u64 + 1;
            if used + size > self.max_bytes {
                break;
            }
            used += size;
            buffer.extend_from_slice(record.as_bytes());
            buffer.push(b'\n');
            accepted += 1;
        }
        if accepted == 0 {
            return Ok(0);
        }
        let sequence = self.writable_segment()?;
        let path = self.path(sequence);
        let Some((_, file)) = self.writer.as_mut() else {
            return Ok(0);
        };
        let written = file.write_all(&buffer).and_then(|()| file.flush());
        let Some(entry) = self.segments.iter_mut().find(|(s, _)| *s == sequence) else {
            return Ok(0);
        };
        if let Err(e) = written {
            // A full disk can take part of the batch: cut it off again, so that the next
            // append does not glue a record onto a torn one.
            if let Err(cut) = file.set_len(entry.1) {
                tracing::error!("cannot cut a torn write off {}: {cut}", path.display());
            }
            return Err(io_error(&path)(e));
        }
        entry.1 += buffer.len() as u64;
        Ok(accepted)
    }

    fn writable_segment(&mut self) -> Result<u64, SinkError> {
        if let Some((sequence, _)) = &self.writer {
            let size = self
                .segments
                .iter()
                .find(|(s, _)| s == sequence)
                .map(|(_, size)| *size);
            if size.is_some_and(|size| size < SEGMENT_BYTES) {
                return Ok(*sequence);
            }
        }
        let sequence = self.segments.last().map(|(s, _)| s + 1).unwrap_or(1);
        let path = self.path(sequence);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        self.segments.push((sequence, 0));
        self.writer = Some((sequence, file));
        Ok(sequence)
    }

    /// The oldest segment's records (closing it for writing first), or `None` when empty.
    pub fn oldest(&mut self) -> Result<Option<Segment>, SinkError> {
        let Some(&(sequence, _)) = self.segments.first() else {
            return Ok(None);
        };
        if self.writer.as_ref().is_some_and(|(s, _)| *s == sequence) {
            self.writer = None;
        }
        let path = self.path(sequence);
        let file = File::open(&path).map_err(io_error(&path))?;
        let mut records = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(io_error(&path))?;
            // A torn last line (crash mid-write) is not a whole record: leave it out.
            if !line.is_empty() && line.ends_with('}') {
                records.push(line);
            }
        }
        Ok(Some(Segment { sequence, records }))
    }

    /// How many records of the oldest segment were already delivered.
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// `count` more records of the oldest segment were delivered.
    pub fn mark_delivered(&mut self, count: usize) {
        self.delivered += count;
    }

    /// Deletes a delivered segment.
    pub fn remove(&mut self, sequence: u64) -> Result<(), SinkError> {
        self.delivered = 0;
        if self.writer.as_ref().is_some_and(|(s, _)| *s == sequence) {
            self.writer = None;
        }
        let path = self.path(sequence);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path)(e)),
        }
        self.segments.retain(|(s, _)| *s != sequence);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sb-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn records(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| format!("{{\"id\":\"{i}\"}}")).collect()
    }

    #[test]
    fn records_come_back_in_order_and_survive_a_reopen() {
        let dir = temp_dir("order");
        let mut spool = Spool::open(&dir, 1 << 20).unwrap();
        assert_eq!(spool.append(&records(0..3)).unwrap(), 3);
        assert_eq!(spool.append(&records(3..5)).unwrap(), 2);
        drop(spool);
        let mut spool = Spool::open(&dir, 1 << 20).unwrap();
        let segment = spool.oldest().unwrap().unwrap();
        assert_eq!(segment.records, records(0..5));
        spool.remove(segment.sequence).unwrap();
        assert!(spool.is_empty());
        assert!(spool.oldest().unwrap().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_cap_refuses_what_does_not_fit() {
        let dir = temp_dir("cap");
        let mut spool = Spool::open(&dir, 25).unwrap();
        // Each record is 9 bytes + newline: two fit in 25 bytes, the third does not.
        assert_eq!(spool.append(&records(0..3)).unwrap(), 2);
        assert_eq!(spool.append(&records(3..4)).unwrap(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn appends_after_a_replay_start_a_new_segment() {
        let dir = temp_dir("rotate");
        let mut spool = Spool::open(&dir, 1 << 20).unwrap();
        spool.append(&records(0..2)).unwrap();
        let first = spool.oldest().unwrap().unwrap();
        spool.append(&records(2..4)).unwrap();
        spool.remove(first.sequence).unwrap();
        assert_eq!(spool.oldest().unwrap().unwrap().records, records(2..4));
        let _ = fs::remove_dir_all(&dir);
    }
}
