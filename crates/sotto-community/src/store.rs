//! The storage layer: one connection to either SQLite (the default: one file) or PostgreSQL
//! (the operator's option), behind one small API shaped like `rusqlite`'s, so that every query
//! is written once.
//!
//! Queries are written in SQLite's dialect with portable types and literals (`TRUE`/`FALSE`,
//! no boolean aggregates). For PostgreSQL each query is translated once and cached: `?N` and
//! `:name` parameters become `$N`, the column `user` (a reserved word there) is quoted, and
//! `INSERT OR IGNORE` becomes `INSERT … ON CONFLICT DO NOTHING`. Parameters are converted to
//! the types PostgreSQL inferred for them, and results back to SQLite's five value types.

use std::cell::RefCell;
use std::collections::HashMap;

use thiserror::Error;

/// Why a query failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("postgresql: {}", pg_detail(.0))]
    Postgres(#[from] postgres::Error),
    /// The connection was closed.
    #[error("database connection closed")]
    Closed,
    /// A query that must return a row returned none.
    #[error("query returned no rows")]
    NoRows,
    /// A column is missing or holds a value of another type.
    #[error("column {column}: expected {expected}")]
    Type {
        /// The column's index.
        column: usize,
        /// The Rust type asked for.
        expected: &'static str,
    },
    /// PostgreSQL returned a column type this layer does not read.
    #[error("unsupported postgresql column type {0}")]
    UnsupportedType(String),
}

/// The server's own message for a database error (the client's `Display` says only "db
/// error").
fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The result of a query.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One SQL value, as SQLite has them (booleans are integers 0 and 1).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// NULL.
    Null,
    /// An integer (or a boolean).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// A Rust value usable as a query parameter.
pub trait ToValue {
    /// The SQL value.
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

/// Query parameters: positional (`?N`) or named (`:name`).
pub trait Params {
    /// The values, with their names when named.
    fn values(&self) -> Bound;
}

/// Parameters ready to bind.
#[derive(Debug)]
pub enum Bound {
    /// By position: `?1` is the first.
    Positional(Vec<Value>),
    /// By name, each with its leading `:`.
    Named(Vec<(String, Value)>),
}

impl Params for () {
    fn values(&self) -> Bound {
        Bound::Positional(Vec::new())
    }
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Bound {
        Bound::Positional(self.iter().map(|v| v.to_value()).collect())
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(&self) -> Bound {
        Bound::Positional(self.iter().map(ToValue::to_value).collect())
    }
}

impl Params for &[(&str, &dyn ToValue)] {
    fn values(&self) -> Bound {
        Bound::Named(
            self.iter()
                .map(|(n, v)| ((*n).to_owned(), v.to_value()))
                .collect(),
        )
    }
}

/// Positional parameters: `params![a, b]`.
#[macro_export]
#[doc(hidden)]
macro_rules! __store_params {
    () => { () };
    ($($v:expr),+ $(,)?) => {
        &[$(&$v as &dyn $crate::store::ToValue),+] as &[&dyn $crate::store::ToValue]
    };
}
pub use crate::__store_params as params;

/// Named parameters: `named_params! { ":a": a, ":b": b }`.
#[macro_export]
#[doc(hidden)]
macro_rules! __store_named_params {
    ($($n:literal : $v:expr),+ $(,)?) => {
        &[$(($n, &$v as &dyn $crate::store::ToValue)),+]
            as &[(&str, &dyn $crate::store::ToValue)]
    };
}
pub use crate::__store_named_params as named_params;

/// A Rust type a column can be read as.
pub trait FromValue: Sized {
    /// Converts `v` (column `column`).
    fn from_value(v: &Value, column: usize) -> Result<Self>;
}

fn wrong<T>(column: usize, expected: &'static str) -> Result<T> {
    Err(StoreError::Type { column, expected })
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value, column: usize) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v, column).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value, column: usize) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(*i),
            _ => wrong(column, "integer"),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value, column: usize) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(*i != 0),
            _ => wrong(column, "boolean"),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value, column: usize) -> Result<Self> {
        match v {
            Value::Real(f) => Ok(*f),
            #[allow(clippy::cast_precision_loss, reason = "as SQLite converts")]
            Value::Int(i) => Ok(*i as f64),
            _ => wrong(column, "float"),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value, column: usize) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => wrong(column, "text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value, column: usize) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            _ => wrong(column, "blob"),
        }
    }
}

/// A column index (`usize`); a trait so that `r.get::<_, T>(i)` reads as with `rusqlite`.
pub trait RowIndex {
    /// The index.
    fn index(&self) -> usize;
}

impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// One result row.
#[derive(Debug)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// Column `idx` as a `T`.
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> Result<T> {
        let column = idx.index();
        match self.values.get(column) {
            Some(v) => T::from_value(v, column),
            None => wrong(column, "a column"),
        }
    }
}

/// `Ok(None)` instead of [`StoreError::NoRows`].
pub trait OptionalExtension<T> {
    /// The row, if there was one.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A PostgreSQL connection with its translated, prepared statements.
struct Pg {
    /// Always `Some` until dropped.
    client: Option<postgres::Client>,
    /// SQL as written → (the prepared translation, its named parameters in `$N` order).
    cache: HashMap<String, (postgres::Statement, Vec<String>)>,
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

/// A database connection (SQLite or PostgreSQL). Not shared between threads at once: the
/// server keeps it under a mutex.
pub struct Db {
    backend: RefCell<Backend>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect())
            .finish()
    }
}

impl Db {
    /// Wraps an SQLite connection.
    #[must_use]
    pub fn sqlite(conn: rusqlite::Connection) -> Self {
        Self {
            backend: RefCell::new(Backend::Sqlite(conn)),
        }
    }

    /// Connects to PostgreSQL at `url` (`postgresql://user@host:port/db`, or the key=value
    /// form; without TLS, so use a unix socket or a trusted network).
    pub fn postgres(url: &str) -> Result<Self> {
        let client = postgres::Client::connect(url, postgres::NoTls)?;
        Ok(Self {
            backend: RefCell::new(Backend::Postgres(Box::new(Pg {
                client: Some(client),
                cache: HashMap::new(),
            }))),
        })
    }

    /// The connection's dialect.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        match &*self.backend.borrow() {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs SQL statements without parameters or results (schema, savepoints).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &mut *self.backend.borrow_mut() {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres(pg) => Ok(pg.client()?.batch_execute(&translate(sql).0)?),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let bound = params.values();
        match &mut *self.backend.borrow_mut() {
            Backend::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(match bound {
                    Bound::Positional(v) => {
                        stmt.execute(rusqlite::params_from_iter(v.iter().map(sqlite_value)))?
                    }
                    Bound::Named(v) => {
                        let owned: Vec<(String, rusqlite::types::Value)> = v
                            .iter()
                            .map(|(n, v)| (n.clone(), sqlite_value(v)))
                            .collect();
                        let refs: Vec<(&str, &dyn rusqlite::ToSql)> = owned
                            .iter()
                            .map(|(n, v)| (n.as_str(), v as &dyn rusqlite::ToSql))
                            .collect();
                        stmt.execute(refs.as_slice())?
                    }
                })
            }
            Backend::Postgres(pg) => {
                let (stmt, args) = pg.bind(sql, bound)?;
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                    .iter()
                    .map(|a| a as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                let n = pg.client()?.execute(&stmt, &refs)?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row a query returns.
    pub fn rows<P: Params>(&self, sql: &str, params: P) -> Result<Vec<Row>> {
        let bound = params.values();
        match &mut *self.backend.borrow_mut() {
            Backend::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let width = stmt.column_count();
                let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(from_sqlite(r.get_ref(i)?));
                    }
                    Ok(Row { values })
                };
                let rows = match bound {
                    Bound::Positional(v) => stmt
                        .query_map(rusqlite::params_from_iter(v.iter().map(sqlite_value)), read)?
                        .collect::<rusqlite::Result<Vec<_>>>()?,
                    Bound::Named(v) => {
                        let owned: Vec<(String, rusqlite::types::Value)> = v
                            .iter()
                            .map(|(n, v)| (n.clone(), sqlite_value(v)))
                            .collect();
                        let refs: Vec<(&str, &dyn rusqlite::ToSql)> = owned
                            .iter()
                            .map(|(n, v)| (n.as_str(), v as &dyn rusqlite::ToSql))
                            .collect();
                        stmt.query_map(refs.as_slice(), read)?
                            .collect::<rusqlite::Result<Vec<_>>>()?
                    }
                };
                Ok(rows)
            }
            Backend::Postgres(pg) => {
                let (stmt, args) = pg.bind(sql, bound)?;
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                    .iter()
                    .map(|a| a as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                pg.client()?
                    .query(&stmt, &refs)?
                    .iter()
                    .map(from_pg_row)
                    .collect()
            }
        }
    }

    /// The first row of a query, mapped by `f`; [`StoreError::NoRows`] if there is none.
    pub fn query_row<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        let rows = self.rows(sql, params)?;
        rows.first().map_or(Err(StoreError::NoRows), f)
    }

    /// A statement to run with [`Stmt::query_map`] (statements are cached by both backends).
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_>> {
        Ok(Stmt {
            db: self,
            sql: sql.to_owned(),
        })
    }

    /// Same as [`Db::prepare_cached`].
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_>> {
        self.prepare_cached(sql)
    }

    /// Begins the transaction a request runs in (PostgreSQL only: SQLite's savepoints start
    /// one by themselves, and its requests keep their autocommit behaviour).
    pub fn begin_request(&self) -> Result<()> {
        if self.dialect() == Dialect::Postgres {
            self.execute_batch("BEGIN")?;
        }
        Ok(())
    }

    /// Commits what [`Db::begin_request`] began; rolls back if the commit fails.
    pub fn end_request(&self) -> Result<()> {
        if self.dialect() == Dialect::Postgres
            && let Err(e) = self.execute_batch("COMMIT")
        {
            let _ = self.execute_batch("ROLLBACK");
            return Err(e);
        }
        Ok(())
    }
}

/// A statement of a [`Db`].
pub struct Stmt<'a> {
    db: &'a Db,
    sql: String,
}

impl Stmt<'_> {
    /// Runs the query and maps each row with `f`.
    pub fn query_map<T, P: Params>(
        &mut self,
        params: P,
        f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let rows = self.db.rows(&self.sql, params)?;
        Ok(rows.iter().map(f).collect::<Vec<_>>().into_iter())
    }
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(*i),
        Value::Real(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // The blocking client closes its connection with a runtime of its own, which tokio
        // forbids on an async worker: there, close it on a thread of its own.
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("postgres-close".into())
                .spawn(move || drop(client));
        }
    }
}

impl Pg {
    fn client(&mut self) -> Result<&mut postgres::Client> {
        self.client.as_mut().ok_or(StoreError::Closed)
    }

    /// The prepared statement for `sql` and its arguments in `$N` order.
    fn bind(&mut self, sql: &str, bound: Bound) -> Result<(postgres::Statement, Vec<PgArg>)> {
        if !self.cache.contains_key(sql) {
            let (text, names) = translate(sql);
            let stmt = self.client()?.prepare(&text)?;
            self.cache.insert(sql.to_owned(), (stmt, names));
        }
        let Some((stmt, names)) = self.cache.get(sql) else {
            return Err(StoreError::NoRows);
        };
        let values: Vec<Value> = match bound {
            Bound::Positional(v) => v,
            Bound::Named(mut v) => names
                .iter()
                .map(|n| {
                    v.iter_mut()
                        .find(|(name, _)| name == n)
                        .map_or(Value::Null, |(_, val)| std::mem::replace(val, Value::Null))
                })
                .collect(),
        };
        let args = stmt
            .params()
            .iter()
            .enumerate()
            .map(|(i, _)| PgArg(values.get(i).cloned().unwrap_or(Value::Null)))
            .collect();
        Ok((stmt.clone(), args))
    }
}

/// Translates SQLite-dialect SQL for PostgreSQL; returns the text and the named parameters in
/// `$N` order (each name appears once however often it is used).
#[must_use]
pub fn translate(sql: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut names: Vec<String> = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let mut or_ignore = false;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while let Some(&c) = chars.get(i) {
        match c {
            '\'' | '"' => {
                // A literal or quoted identifier, copied as it is.
                out.push(c);
                i += 1;
                while let Some(&d) = chars.get(i) {
                    out.push(d);
                    i += 1;
                    if d == c {
                        break;
                    }
                }
            }
            '?' => {
                out.push('$');
                i += 1;
            }
            ':' if chars
                .get(i + 1)
                .is_some_and(|d| d.is_ascii_alphabetic() || *d == '_')
                && i.checked_sub(1).and_then(|p| chars.get(p)) != Some(&':') =>
            {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(|d| ident(*d)) {
                    i += 1;
                }
                let name: String = chars.get(start..i).unwrap_or_default().iter().collect();
                let pos = match names.iter().position(|n| *n == name) {
                    Some(p) => p,
                    None => {
                        names.push(name);
                        names.len() - 1
                    }
                };
                out.push('$');
                out.push_str(&(pos + 1).to_string());
            }
            c if ident(c) => {
                let start = i;
                while chars.get(i).is_some_and(|d| ident(*d)) {
                    i += 1;
                }
                let word: String = chars.get(start..i).unwrap_or_default().iter().collect();
                let after_dollar = out.ends_with('$');
                if word == "user" && !after_dollar {
                    out.push_str("\"user\"");
                } else if word.eq_ignore_ascii_case("OR")
                    && out.trim_end().to_ascii_uppercase().ends_with("INSERT")
                {
                    // `INSERT OR IGNORE`: drop `OR IGNORE`, add `ON CONFLICT DO NOTHING`.
                    or_ignore = true;
                    while chars.get(i).is_some_and(|d| d.is_whitespace()) {
                        i += 1;
                    }
                    while chars.get(i).is_some_and(|d| ident(*d)) {
                        i += 1;
                    }
                    while chars.get(i).is_some_and(|d| d.is_whitespace()) {
                        i += 1;
                    }
                    continue;
                } else {
                    out.push_str(&word);
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if or_ignore {
        let trimmed = out.trim_end().trim_end_matches(';').to_owned();
        out = format!("{trimmed} ON CONFLICT DO NOTHING");
    }
    (out, names)
}

/// A parameter converted at bind time to the type PostgreSQL inferred for it.
#[derive(Debug)]
struct PgArg(Value);

impl postgres::types::ToSql for PgArg {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::{IsNull, Type};
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            #[allow(clippy::cast_precision_loss, reason = "as SQLite converts")]
            Value::Int(i) if *ty == Type::FLOAT8 => (*i as f64).to_sql(ty, out),
            Value::Int(i) if *ty == Type::TEXT || *ty == Type::VARCHAR => {
                i.to_string().to_sql(ty, out)
            }
            Value::Int(i) => i.to_sql(ty, out),
            #[allow(clippy::cast_possible_truncation, reason = "a float4 column")]
            Value::Real(f) if *ty == Type::FLOAT4 => (*f as f32).to_sql(ty, out),
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn from_pg_row(row: &postgres::Row) -> Result<Row> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?
                .map_or(Value::Null, |b| Value::Int(i64::from(b)))
        } else if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?
                .map_or(Value::Null, Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?
                .map_or(Value::Null, |v| Value::Int(i64::from(v)))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?
                .map_or(Value::Null, |v| Value::Int(i64::from(v)))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)?
                .map_or(Value::Null, Value::Real)
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)?
                .map_or(Value::Null, |v| Value::Real(f64::from(v)))
        } else if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::NAME {
            row.try_get::<_, Option<String>>(i)?
                .map_or(Value::Null, Value::Text)
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?
                .map_or(Value::Null, Value::Blob)
        } else {
            return Err(StoreError::UnsupportedType(ty.to_string()));
        };
        values.push(v);
    }
    Ok(Row { values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_numbers_names_quotes_user_and_rewrites_or_ignore() {
        let (sql, names) = translate("INSERT OR IGNORE INTO t (user, x) VALUES (?1, ?2)");
        assert_eq!(
            sql,
            "INSERT INTO t (\"user\", x) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        );
        assert!(names.is_empty());
        let (sql, names) =
            translate("SELECT ':x', users.id FROM users WHERE a = :b AND c = :a AND d = :b::int");
        assert_eq!(
            sql,
            "SELECT ':x', users.id FROM users WHERE a = $1 AND c = $2 AND d = $1::int"
        );
        assert_eq!(names, vec![":b".to_owned(), ":a".to_owned()]);
        let (sql, _) = translate("SELECT o.user FROM x o WHERE o.user = ?1");
        assert_eq!(sql, "SELECT o.\"user\" FROM x o WHERE o.\"user\" = $1");
    }

    #[test]
    fn sqlite_round_trips_values_and_named_parameters() {
        let db = Db::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        db.execute_batch("CREATE TABLE t (a INTEGER, b REAL, c TEXT, d BLOB)")
            .unwrap();
        db.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            params![true, 1.5, "x", vec![1u8, 2]],
        )
        .unwrap();
        let (a, b, c, d): (bool, f64, String, Vec<u8>) = db
            .query_row(
                "SELECT a, b, c, d FROM t WHERE c = :c",
                named_params! { ":c": "x" },
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert!(a);
        assert!((b - 1.5).abs() < f64::EPSILON);
        assert_eq!((c.as_str(), d), ("x", vec![1, 2]));
        assert!(
            db.query_row("SELECT a FROM t WHERE c = 'y'", (), |r| r.get::<_, i64>(0))
                .optional()
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            db.query_row("SELECT c FROM t", (), |r| r.get::<_, i64>(0)),
            Err(StoreError::Type { column: 0, .. })
        ));
    }
}
