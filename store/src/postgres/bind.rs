//! Statements of the shared filter model in PostgreSQL's terms: `?` marks become numbered
//! parameters cast to the type of the value bound there, and the values bind as those types.

use std::error::Error;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::types::Value as SqlValue;

/// `sql` with its `?` marks numbered `$1`, `$2`, ... in order, each cast to the type of the
/// parameter it takes (`$1::text`), so the server never has to guess a type (`length(?)` has
/// several) and [`Param`] always binds what the server expects. The shared SQL never holds a
/// `?` in a string literal or as an operator.
pub(crate) fn numbered(sql: &str, params: &[SqlValue]) -> String {
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            let cast = match params.get(n) {
                Some(SqlValue::Integer(_)) => "int8",
                Some(SqlValue::Real(_)) => "float8",
                Some(SqlValue::Blob(_)) => "bytea",
                Some(SqlValue::Text(_)) | Some(SqlValue::Null) | None => "text",
            };
            n += 1;
            out.push_str(&format!("${n}::{cast}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// One shared-model value bound to a PostgreSQL parameter of the type [`numbered`] cast it to.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub(crate) &'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Integer(n) => n.to_sql(ty, out),
            SqlValue::Real(x) => x.to_sql(ty, out),
            SqlValue::Text(text) => text.as_str().to_sql(ty, out),
            SqlValue::Blob(bytes) => bytes.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8 | Type::FLOAT8 | Type::TEXT | Type::BYTEA | Type::VARCHAR
        )
    }

    to_sql_checked!();
}

/// The parameters as the driver takes them.
pub(crate) fn params(values: &[SqlValue]) -> Vec<Param<'_>> {
    values.iter().map(Param).collect()
}

/// References to `params` for a driver call.
pub(crate) fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_casts_each_mark() {
        let params = [
            SqlValue::Text("es".into()),
            SqlValue::Integer(5),
            SqlValue::Real(0.5),
        ];
        assert_eq!(
            numbered("a = ? AND b > ? AND c IN (?)", &params),
            "a = $1::text AND b > $2::int8 AND c IN ($3::float8)"
        );
    }
}
