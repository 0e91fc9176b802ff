//! Filter conditions with operators (SPEC section 14): `<field>.<op>=<value>`.
//!
//! One model for every surface that filters (the logs API, the export, the CLI, Respan's list
//! API): a [`Field`] says where a value lives and what it holds, an [`Op`] what to compare, and
//! a [`Condition`] renders as one SQL condition on the current `logs` row. Equalities on the
//! indexed columns and side tables stay with [`crate::Filter`]'s own fields, which can drive an
//! index; conditions are checked on the rows that walk yields (see [`crate::plan`]).

use rusqlite::types::Value as SqlValue;

use crate::dialect::Dialect;
use crate::predicate::Clauses;
use crate::{StoreError, timefmt};

/// An operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (the default of `<field>=<value>`).
    Eq,
    /// Not equal (a log without the field is not equal).
    Not,
    /// Equal to one of the comma-separated values.
    In,
    /// Equal to none of them (a log without the field matches).
    NotIn,
    /// Less than (numbers and times).
    Lt,
    /// Less than or equal.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Contains the text (case-sensitive).
    Contains,
    /// Contains the text, ignoring ASCII case.
    IContains,
    /// Does not contain the text.
    NotContains,
    /// Starts with the text.
    StartsWith,
    /// Does not start with the text.
    NotStartsWith,
    /// Ends with the text.
    EndsWith,
    /// Does not end with the text.
    NotEndsWith,
    /// The field is absent or empty (the value is ignored).
    Empty,
    /// The field is present and not empty (the value is ignored).
    NotEmpty,
}

impl Op {
    /// Every operator, by its name in a query key.
    pub const ALL: [(&'static str, Op); 17] = [
        ("eq", Op::Eq),
        ("not", Op::Not),
        ("in", Op::In),
        ("not_in", Op::NotIn),
        ("lt", Op::Lt),
        ("lte", Op::Lte),
        ("gt", Op::Gt),
        ("gte", Op::Gte),
        ("contains", Op::Contains),
        ("icontains", Op::IContains),
        ("not_contains", Op::NotContains),
        ("startswith", Op::StartsWith),
        ("not_startswith", Op::NotStartsWith),
        ("endswith", Op::EndsWith),
        ("not_endswith", Op::NotEndsWith),
        ("empty", Op::Empty),
        ("not_empty", Op::NotEmpty),
    ];

    /// The operator called `name`.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.iter().find(|(n, _)| *n == name).map(|(_, op)| *op)
    }

    /// Its name in a query key.
    pub fn as_str(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("eq", |(name, _)| name)
    }

    fn is_order(self) -> bool {
        matches!(self, Op::Lt | Op::Lte | Op::Gt | Op::Gte)
    }

    fn is_text(self) -> bool {
        matches!(
            self,
            Op::Contains
                | Op::IContains
                | Op::NotContains
                | Op::StartsWith
                | Op::NotStartsWith
                | Op::EndsWith
                | Op::NotEndsWith
        )
    }

    /// True for the operators that deny a positive one.
    fn negative(self) -> bool {
        matches!(
            self,
            Op::Not | Op::NotIn | Op::Empty | Op::NotContains | Op::NotStartsWith | Op::NotEndsWith
        )
    }

    /// The positive operator a negative one denies.
    fn positive(self) -> Op {
        match self {
            Op::Not => Op::Eq,
            Op::NotIn => Op::In,
            Op::Empty => Op::NotEmpty,
            Op::NotContains => Op::Contains,
            Op::NotStartsWith => Op::StartsWith,
            Op::NotEndsWith => Op::EndsWith,
            other => other,
        }
    }
}

/// What a field holds: decides which operators it takes and how its values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    /// Unix microseconds in a column; values are RFC3339 times.
    Time,
    Bool,
}

/// Where a field's values are.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// A column of `logs`.
    Column(&'static str),
    /// A path in the record's JSON.
    Json(&'static str),
    /// `metadata.<key>`, in `log_properties`.
    Metadata(String),
    /// `score.<slug>`'s numerical value, in `scores`.
    Score(String),
    /// Any attempt's error kind, in `log_error_kinds`.
    ErrorKind,
}

/// A field a condition can test.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    name: String,
    source: Source,
    kind: Kind,
}

/// The fields besides `metadata.<key>` and `score.<slug>`, with where they live.
#[rustfmt::skip]
const FIELDS: &[(&str, Source, Kind)] = &[
    ("id",                  Source::Column("id"),                    Kind::Text),
    ("model",               Source::Column("model"),                 Kind::Text),
    ("provider_id",         Source::Column("provider_id"),           Kind::Text),
    ("status",              Source::Column("status"),                Kind::Text),
    ("customer_identifier", Source::Column("customer_identifier"),   Kind::Text),
    ("thread_identifier",   Source::Column("thread_identifier"),     Kind::Text),
    ("trace_unique_id",     Source::Column("trace_unique_id"),       Kind::Text),
    ("span_unique_id",      Source::Column("span_unique_id"),        Kind::Text),
    ("span_parent_id",      Source::Column("span_parent_id"),        Kind::Text),
    ("status_code",         Source::Column("status_code"),           Kind::Number),
    ("fallback_used",       Source::Column("fallback_used"),         Kind::Bool),
    ("json_valid",          Source::Column("json_valid"),            Kind::Bool),
    ("start_time",          Source::Column("start_time"),            Kind::Time),
    ("timestamp",           Source::Column("end_time"),              Kind::Time),
    ("error_kind",          Source::ErrorKind,                       Kind::Text),
    ("latency",             Source::Json("$.latency"),               Kind::Number),
    ("time_to_first_token", Source::Json("$.time_to_first_token"),   Kind::Number),
    ("max_stall",           Source::Json("$.max_stall"),             Kind::Number),
    ("cost",                Source::Json("$.cost"),                  Kind::Number),
    ("retries",             Source::Json("$.retries"),               Kind::Number),
    ("prompt_tokens",       Source::Json("$.usage.prompt_tokens"),   Kind::Number),
    ("completion_tokens",   Source::Json("$.usage.completion_tokens"), Kind::Number),
    ("total_tokens",        Source::Json("$.usage.total_tokens"),    Kind::Number),
    ("stream",              Source::Json("$.stream"),                Kind::Bool),
    ("continued",           Source::Json("$.continued"),             Kind::Bool),
    ("span_name",           Source::Json("$.span_name"),             Kind::Text),
    ("log_type",            Source::Json("$.log_type"),              Kind::Text),
    ("error_message",       Source::Json("$.error_message"),         Kind::Text),
    ("provider_model",      Source::Json("$.provider_model"),        Kind::Text),
];

impl Field {
    /// The field called `name` (`latency`, `metadata.language`, `score.quality`, ...).
    pub fn parse(name: &str) -> Option<Field> {
        let field = |source, kind| {
            Some(Field {
                name: name.to_owned(),
                source,
                kind,
            })
        };
        if let Some(key) = name.strip_prefix("metadata.") {
            return (!key.is_empty())
                .then(|| field(Source::Metadata(key.to_owned()), Kind::Text))
                .flatten();
        }
        if let Some(slug) = name.strip_prefix("score.") {
            return (!slug.is_empty())
                .then(|| field(Source::Score(slug.to_owned()), Kind::Number))
                .flatten();
        }
        let (_, source, kind) = FIELDS.iter().find(|(n, _, _)| *n == name)?;
        field(source.clone(), *kind)
    }

    /// Every field name a condition takes (besides `metadata.<key>` and `score.<slug>`).
    pub fn names() -> impl Iterator<Item = &'static str> {
        FIELDS.iter().map(|(name, _, _)| *name)
    }
}

/// One condition: `field op values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    field: Field,
    op: Op,
    values: Vec<SqlValue>,
}

impl Condition {
    /// `field op raw` as a query gives it (`in`/`not_in` take comma-separated values); a
    /// [`StoreError::BadFilter`] naming `key` when the operator does not fit the field or a
    /// value does not read as the field's kind.
    pub fn parse(key: &str, field: Field, op: Op, raw: &str) -> Result<Condition, StoreError> {
        let values: Vec<&str> = match op {
            Op::In | Op::NotIn => raw.split(',').collect(),
            Op::Empty | Op::NotEmpty => Vec::new(),
            _ => vec![raw],
        };
        Condition::new(key, field, op, &values)
    }

    /// `field op values` with the values as a list (Respan's filter JSON).
    pub fn new(key: &str, field: Field, op: Op, values: &[&str]) -> Result<Condition, StoreError> {
        let fits = match field.kind {
            Kind::Text => !op.is_order(),
            Kind::Number | Kind::Time => !op.is_text(),
            Kind::Bool => matches!(op, Op::Eq | Op::Not | Op::Empty | Op::NotEmpty),
        };
        if !fits {
            let what = match field.kind {
                Kind::Text => {
                    "text: use eq, not, in, not_in, contains, icontains, startswith, empty or not_empty"
                }
                Kind::Number => {
                    "a number: use eq, not, in, not_in, lt, lte, gt, gte, empty or not_empty"
                }
                Kind::Time => {
                    "a time: use eq, not, in, not_in, lt, lte, gt, gte, empty or not_empty"
                }
                Kind::Bool => "true or false: use eq, not, empty or not_empty",
            };
            return Err(StoreError::bad_filter(
                key,
                format!("`{}` does not apply: {} is {what}", op.as_str(), field.name),
            ));
        }
        if values.is_empty() && !matches!(op, Op::Empty | Op::NotEmpty) {
            return Err(StoreError::bad_filter(key, "needs a value"));
        }
        let values = values
            .iter()
            .map(|raw| value(key, field.kind, raw.trim()))
            .collect::<Result<_, _>>()?;
        Ok(Condition { field, op, values })
    }

    /// The condition on the current `logs` row.
    pub(crate) fn push(&self, out: &mut Clauses, dialect: Dialect) {
        let (sql, params) = self.sql(dialect);
        out.push_all(sql, params);
    }

    fn sql(&self, dialect: Dialect) -> (String, Vec<SqlValue>) {
        let set = |table: &str, key: Option<(&str, &str)>, column: &str| {
            let mut params = Vec::new();
            let mut inner = format!("SELECT 1 FROM {table} AS s WHERE s.log_id = logs.id");
            // PostgreSQL's side tables are partitioned by day like `logs`: the log's own
            // start time picks the partition. (`scores` is one table.)
            if dialect == Dialect::Postgres && table != "scores" {
                inner.push_str(" AND s.start_time = logs.start_time");
            }
            if let Some((key_column, key)) = key {
                inner.push_str(&format!(" AND s.{key_column} = ?"));
                params.push(SqlValue::Text(key.to_owned()));
            }
            // Over metadata and scores a log without the key never matches, not even a
            // negative operator (Respan's rule), `empty` aside; over error kinds (a set per
            // log) a negative operator means that no attempt matches.
            let keyed = key.is_some() && self.op.negative() && self.op != Op::Empty;
            let (op, exists) = match (keyed, self.op.negative()) {
                (true, _) => (self.op, "EXISTS"),
                (false, true) => (self.op.positive(), "NOT EXISTS"),
                (false, false) => (self.op, "EXISTS"),
            };
            let (test, values) = scalar(
                &format!("s.{column}"),
                op,
                &self.values,
                self.field.kind,
                dialect,
            );
            inner.push_str(&format!(" AND {test}"));
            if dialect == Dialect::Postgres {
                inner.push_str(" OFFSET 0"); // a per-row check, as in `SideMatch::push_exists`
            }
            params.extend(values);
            (format!("{exists} ({inner})"), params)
        };
        match &self.field.source {
            Source::Column(column) => scalar(
                &format!("logs.{column}"),
                self.op,
                &self.values,
                self.field.kind,
                dialect,
            ),
            Source::Json(path) => scalar(
                &dialect.json_value(path, &self.field.name),
                self.op,
                &self.values,
                self.field.kind,
                dialect,
            ),
            Source::Metadata(key) if dialect == Dialect::Postgres => {
                let value = crate::dialect::metadata_value(key);
                let (test, params) =
                    scalar(&value, self.op, &self.values, self.field.kind, dialect);
                // A log without the key matches no operator but `empty` (as below).
                if self.op.negative() && self.op != Op::Empty {
                    (format!("({value} IS NOT NULL AND {test})"), params)
                } else {
                    (test, params)
                }
            }
            Source::Metadata(key) => set("log_properties", Some(("key", key)), "value"),
            Source::Score(slug) => set("scores", Some(("evaluator_slug", slug)), "numerical_value"),
            Source::ErrorKind => set("log_error_kinds", None, "error_kind"),
        }
    }
}

/// A condition on a single value `expr` (NULL when the log has none).
fn scalar(
    expr: &str,
    op: Op,
    values: &[SqlValue],
    kind: Kind,
    dialect: Dialect,
) -> (String, Vec<SqlValue>) {
    if op.negative() {
        let (test, params) = compare(expr, op.positive(), values, kind, dialect);
        let no = dialect.false_literal();
        return (format!("NOT coalesce({test}, {no})"), params);
    }
    compare(expr, op, values, kind, dialect)
}

/// `expr op values` for a positive operator (NULL, which fails a WHERE, when `expr` is NULL).
fn compare(
    expr: &str,
    op: Op,
    values: &[SqlValue],
    kind: Kind,
    dialect: Dialect,
) -> (String, Vec<SqlValue>) {
    let first = || values.first().cloned().unwrap_or(SqlValue::Null);
    let binary = |symbol: &str| (format!("{expr} {symbol} ?"), vec![first()]);
    match op {
        Op::Eq | Op::Not => binary("="),
        Op::In | Op::NotIn => {
            let marks = vec!["?"; values.len().max(1)].join(", ");
            (format!("{expr} IN ({marks})"), values.to_vec())
        }
        Op::Lt => binary("<"),
        Op::Lte => binary("<="),
        Op::Gt => binary(">"),
        Op::Gte => binary(">="),
        Op::Contains | Op::NotContains => (dialect.contains(expr, "?"), vec![first()]),
        Op::IContains => (
            dialect.contains(&format!("lower({expr})"), "lower(?)"),
            vec![first()],
        ),
        Op::StartsWith | Op::NotStartsWith => (dialect.starts_with(expr), vec![first(), first()]),
        Op::EndsWith | Op::NotEndsWith => (dialect.ends_with(expr), vec![first(), first()]),
        Op::NotEmpty | Op::Empty => match kind {
            Kind::Text => (format!("({expr} IS NOT NULL AND {expr} <> '')"), Vec::new()),
            _ => (format!("{expr} IS NOT NULL"), Vec::new()),
        },
    }
}

/// One value as the field's kind stores it.
fn value(key: &str, kind: Kind, raw: &str) -> Result<SqlValue, StoreError> {
    match kind {
        Kind::Text => Ok(SqlValue::Text(raw.to_owned())),
        Kind::Number => raw
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(SqlValue::Real)
            .ok_or_else(|| StoreError::bad_filter(key, format!("{raw:?} is not a number"))),
        Kind::Time => timefmt::rfc3339_micros(raw)
            .map(SqlValue::Integer)
            .ok_or_else(|| StoreError::bad_filter(key, format!("{raw:?} is not an RFC3339 time"))),
        Kind::Bool => match raw {
            "true" | "1" => Ok(SqlValue::Integer(1)),
            "false" | "0" => Ok(SqlValue::Integer(0)),
            _ => Err(StoreError::bad_filter(
                key,
                format!("{raw:?} is not true or false"),
            )),
        },
    }
}

/// Splits a query key into its field and operator: `latency.gt` is (`latency`, `gt`); a key
/// whose last segment is no operator (`metadata.a.b`) is an equality on all of it.
pub fn split_key(key: &str) -> (&str, Op) {
    if let Some((field, last)) = key.rsplit_once('.')
        && let Some(op) = Op::parse(last)
    {
        return (field, op);
    }
    (key, Op::Eq)
}
