//! `switchboard export --format parquet --out FILE` (SPEC section 11): the CSV export's columns,
//! typed (times as UTC microsecond timestamps, numbers, booleans, text; nested values as JSON
//! text), written by the `parquet` crate's Arrow writer in row groups of [`ROW_GROUP`] rows, so
//! memory holds one row group whatever the size of the export.

use std::fs::File;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value};
use switchboard_logs_api::export_format::CSV_COLUMNS;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Rows per row group: what the writer holds in memory at most.
pub const ROW_GROUP: usize = 8_192;

/// How a column is typed.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Time,
    Float,
    Int,
    Bool,
    /// Nested values, as JSON text.
    Json,
}

fn kind(column: &str) -> Kind {
    match column {
        "timestamp" | "start_time" => Kind::Time,
        "latency" | "time_to_first_token" | "max_stall" | "cost" => Kind::Float,
        "status_code" | "retries" => Kind::Int,
        "stream" | "fallback_used" | "json_valid" => Kind::Bool,
        "usage" | "input" | "output" | "tools" | "response_format" | "metadata" | "attempts"
        | "warnings" => Kind::Json,
        _ => Kind::Text,
    }
}

fn schema() -> Arc<Schema> {
    let fields: Vec<Field> = CSV_COLUMNS
        .iter()
        .map(|column| {
            let data_type = match kind(column) {
                Kind::Text | Kind::Json => DataType::Utf8,
                Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                Kind::Float => DataType::Float64,
                Kind::Int => DataType::Int64,
                Kind::Bool => DataType::Boolean,
            };
            Field::new(*column, data_type, *column != "id")
        })
        .collect();
    Arc::new(Schema::new(fields))
}

enum Column {
    Text(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
}

impl Column {
    fn new(kind: Kind) -> Column {
        match kind {
            Kind::Text | Kind::Json => Column::Text(StringBuilder::new()),
            Kind::Time => Column::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            Kind::Float => Column::Float(Float64Builder::new()),
            Kind::Int => Column::Int(Int64Builder::new()),
            Kind::Bool => Column::Bool(BooleanBuilder::new()),
        }
    }

    fn push(&mut self, value: Option<&Value>) {
        let value = value.filter(|v| !v.is_null());
        match self {
            Column::Text(b) => b.append_option(value.map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })),
            Column::Time(b) => b.append_option(value.and_then(micros)),
            Column::Float(b) => b.append_option(value.and_then(Value::as_f64)),
            Column::Int(b) => b.append_option(value.and_then(Value::as_i64)),
            Column::Bool(b) => b.append_option(value.and_then(Value::as_bool)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Text(b) => Arc::new(b.finish()),
            Column::Time(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// An RFC3339 text (or unix seconds) as unix microseconds.
fn micros(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000).ok()),
        Value::Number(n) => n.as_f64().map(|s| (s * 1e6) as i64),
        _ => None,
    }
}

/// Writes records (their stored JSON text) to a Parquet file.
pub struct ParquetWriter {
    writer: ArrowWriter<File>,
    schema: Arc<Schema>,
    columns: Vec<Column>,
    pending: usize,
    rows: u64,
}

impl ParquetWriter {
    /// A writer to `file`, Snappy-compressed.
    pub fn new(file: File) -> Result<ParquetWriter, parquet::errors::ParquetError> {
        let schema = schema();
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
        Ok(ParquetWriter {
            writer,
            columns: CSV_COLUMNS.iter().map(|c| Column::new(kind(c))).collect(),
            schema,
            pending: 0,
            rows: 0,
        })
    }

    /// Adds one record; a full row group goes to the file.
    pub fn row(&mut self, record: &str) -> Result<(), String> {
        let fields: Map<String, Value> = serde_json::from_str(record)
            .map_err(|e| format!("a stored record is not JSON: {e}"))?;
        for (column, builder) in CSV_COLUMNS.iter().zip(&mut self.columns) {
            builder.push(fields.get(*column));
        }
        self.pending += 1;
        self.rows += 1;
        if self.pending == ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.pending == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| e.to_string())?;
        self.writer.write(&batch).map_err(|e| e.to_string())?;
        self.pending = 0;
        Ok(())
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes what is left and the file's footer.
    pub fn finish(mut self) -> Result<(), String> {
        self.flush()?;
        self.writer.close().map(|_| ()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn records_become_typed_rows_in_row_groups() {
        let path = std::env::temp_dir().join(format!("sb-parquet-{}.parquet", std::process::id()));
        let mut writer = ParquetWriter::new(File::create(&path).unwrap()).unwrap();
        for n in 0..(ROW_GROUP + 10) {
            let record = serde_json::json!({
                "id": format!("r{n}"), "start_time": "2026-12-01T10:00:00.5Z",
                "latency": 0.25, "status_code": 200, "stream": true,
                "metadata": {"language": "es"}, "model": "voice-fast"
            });
            writer.row(&record.to_string()).unwrap();
        }
        assert_eq!(writer.rows(), (ROW_GROUP + 10) as u64);
        writer.finish().unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.file_metadata().num_rows(), (ROW_GROUP + 10) as i64);
        assert_eq!(meta.num_row_groups(), 2);
        let schema = meta.file_metadata().schema_descr();
        assert_eq!(schema.num_columns(), CSV_COLUMNS.len());
        let _ = std::fs::remove_file(&path);
    }
}
