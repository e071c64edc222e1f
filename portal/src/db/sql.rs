//! The storage interface the portal's queries are written against, and its two
//! implementations: SQLite (`rusqlite`, the embedded default) and PostgreSQL (`tokio-postgres`
//! behind a `deadpool-postgres` pool).
//!
//! The queries are one text for both engines: parameters are written `?1`, `?2` (or `?` in
//! order), which the PostgreSQL side turns into `$1`, `$2`; integers are 64-bit and booleans are
//! 0/1 integers on both sides; `RETURNING`, `ON CONFLICT` and `FILTER` mean the same in both.
//! Where the engines differ (the schema, SQLite's `rowid`) the code asks [`Conn::dialect`].
//!
//! Transactions ([`super::Db::tx`]) are serial on both: SQLite's `BEGIN IMMEDIATE` takes the
//! one write lock; PostgreSQL runs them `SERIALIZABLE` and runs the body again when the database
//! aborts one for a conflict (SQLSTATE 40001 or a deadlock, 40P01). Every rule that reads and
//! then writes (the throttles, answer-once, nonces, replacing a device) is therefore enforced by
//! the database, whichever engine and however many portals share it.

use std::sync::Arc;

use super::{DbError, DbResult};

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (one file).
    Sqlite,
    /// PostgreSQL (a server, shared by several portals).
    Postgres,
}

/// A value bound to a parameter or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `NULL`.
    Null,
    /// An integer (SQLite `INTEGER`, PostgreSQL `BIGINT`; booleans are 0 and 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (SQLite `BLOB`, PostgreSQL `BYTEA`).
    Blob(Vec<u8>),
}

/// A Rust value that binds to a parameter.
pub trait ToSql {
    /// The value bound.
    fn to_value(&self) -> Value;
}

/// A Rust value a column reads into; a value of the wrong type is an error, never a default.
pub trait FromSql: Sized {
    /// The Rust value, or why the column does not hold one.
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl ToSql for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToSql for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToSql for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToSql for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToSql for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToSql for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToSql for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToSql for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToSql::to_value)
    }
}

impl FromSql for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

impl FromSql for u32 {
    fn from_value(value: &Value) -> Result<Self, String> {
        u32::try_from(i64::from_value(value)?).map_err(|e| e.to_string())
    }
}

impl FromSql for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromSql for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// Column `index` (from 0) as a `T`.
    pub fn get<T: FromSql>(&self, index: usize) -> DbResult<T> {
        let value = self
            .values
            .get(index)
            .ok_or_else(|| DbError::Column(index, "no such column".into()))?;
        T::from_value(value).map_err(|e| DbError::Column(index, e))
    }
}

/// What a query binds: an array of one type (`[id]`), `params![...]` of several, or values
/// built at run time.
pub trait Params {
    /// The values, in parameter order.
    fn values(self) -> Vec<Value>;
}

impl<T: ToSql, const N: usize> Params for [T; N] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToSql::to_value).collect()
    }
}

impl Params for &[&dyn ToSql] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|p| p.to_value()).collect()
    }
}

impl Params for Vec<Value> {
    fn values(self) -> Vec<Value> {
        self
    }
}

/// Parameters of several types: `params![user_id, name, now]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::db::sql::ToSql]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::db::sql::ToSql),+] as &[&dyn $crate::db::sql::ToSql]
    };
}
pub(crate) use params;

/// A connection (or a transaction on one): the storage interface.
pub trait Conn {
    /// The engine behind it.
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the rows it changed.
    fn execute_values(&mut self, sql: &str, values: Vec<Value>) -> DbResult<u64>;
    /// Runs a query; returns its rows.
    fn query_values(&mut self, sql: &str, values: Vec<Value>) -> DbResult<Vec<Row>>;
}

impl dyn Conn + '_ {
    /// Runs a statement; returns the rows it changed.
    pub fn execute(&mut self, sql: &str, params: impl Params) -> DbResult<u64> {
        self.execute_values(sql, params.values())
    }

    /// The rows of a query, each mapped by `f`.
    pub fn query_map<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        self.query_values(sql, params.values())?
            .iter()
            .map(f)
            .collect()
    }

    /// The first row of a query mapped by `f`, if there is one.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        self.query_values(sql, params.values())?
            .first()
            .map(f)
            .transpose()
    }

    /// The first row of a query mapped by `f`; no row is an error ([`DbError::NoRow`]).
    pub fn query_row<T>(
        &mut self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        self.query_opt(sql, params, f)?.ok_or(DbError::NoRow)
    }
}

// ---- SQLite

/// A SQLite connection (statements cached by their text).
pub(super) struct SqliteConn<'a>(pub(super) &'a rusqlite::Connection);

fn to_rusqlite(values: Vec<Value>) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    values
        .into_iter()
        .map(|v| match v {
            Value::Null => V::Null,
            Value::Int(i) => V::Integer(i),
            Value::Text(s) => V::Text(s),
            Value::Blob(b) => V::Blob(b),
        })
        .collect()
}

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute_values(&mut self, sql: &str, values: Vec<Value>) -> DbResult<u64> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let changed = stmt.execute(rusqlite::params_from_iter(to_rusqlite(values)))?;
        Ok(changed as u64)
    }

    fn query_values(&mut self, sql: &str, values: Vec<Value>) -> DbResult<Vec<Row>> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(to_rusqlite(values)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(_) => return Err(DbError::Column(i, "a real number".into())),
                    ValueRef::Text(t) => Value::Text(
                        std::str::from_utf8(t)
                            .map_err(|e| DbError::Column(i, e.to_string()))?
                            .to_owned(),
                    ),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(Row { values });
        }
        Ok(out)
    }
}

// ---- PostgreSQL

/// The PostgreSQL text of a query: `?N` becomes `$N`, and a bare `?` the next number (outside
/// quoted strings).
pub(super) fn postgres_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0u32;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    next += 1;
                    out.push_str(&next.to_string());
                }
            }
            _ => out.push(c),
        }
    }
    out
}

impl postgres_types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres_types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres_types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres_types::Type;
        match self {
            Value::Null => Ok(postgres_types::IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot bind to {ty}").into()),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres_types::Type) -> bool {
        use postgres_types::Type;
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::BYTEA
        )
    }

    postgres_types::to_sql_checked!();
}

fn from_postgres(row: &tokio_postgres::Row) -> DbResult<Row> {
    use postgres_types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                row.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            ref other => return Err(DbError::Column(i, format!("column type {other}"))),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row { values })
}

/// The PostgreSQL side: a pool of connections driven by a small runtime of the database's own,
/// so that the storage calls stay synchronous (they run on blocking threads, like SQLite's) and
/// work from any thread, inside a runtime or not.
pub(super) struct Postgres {
    pub(super) pool: deadpool_postgres::Pool,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a runtime thread may not do; this does not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Postgres {
    /// A pool of at most `size` connections to `url` (`postgres://user:password@host:port/db`).
    pub(super) fn connect(url: &str, size: usize) -> DbResult<Self> {
        Self::with_config(url.parse()?, size)
    }

    /// A pool of at most `size` connections made with `config`.
    pub(super) fn with_config(config: tokio_postgres::Config, size: usize) -> DbResult<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("portal-postgres")
            .enable_all()
            .build()
            .map_err(|e| DbError::Pool(e.to_string()))?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _guard = runtime.enter();
            deadpool_postgres::Pool::builder(manager)
                .max_size(size)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(std::time::Duration::from_secs(10)))
                .create_timeout(Some(std::time::Duration::from_secs(10)))
                .build()
                .map_err(|e| DbError::Pool(e.to_string()))?
        };
        Ok(Self {
            pool,
            runtime: Some(runtime),
        })
    }

    /// Runs `work` on the database's runtime and waits for it, from any thread.
    pub(super) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = DbResult<T>> + Send + 'static,
    ) -> DbResult<T> {
        let Some(runtime) = &self.runtime else {
            return Err(DbError::Pool("shut down".into()));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| DbError::Pool("the database task ended".into()))?
    }

    /// A connection from the pool.
    pub(super) fn conn(&self) -> DbResult<PgConn<'_>> {
        let pool = self.pool.clone();
        let client =
            self.run(async move { pool.get().await.map_err(|e| DbError::Pool(e.to_string())) })?;
        Ok(PgConn {
            backend: self,
            client: Arc::new(client),
        })
    }
}

/// A PostgreSQL connection borrowed from the pool (returned when dropped).
pub(super) struct PgConn<'a> {
    backend: &'a Postgres,
    client: Arc<deadpool_postgres::Object>,
}

/// `values` as tokio-postgres binds them.
fn bound(values: &[Value]) -> Vec<&(dyn postgres_types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres_types::ToSql + Sync))
        .collect()
}

impl Conn for PgConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute_values(&mut self, sql: &str, values: Vec<Value>) -> DbResult<u64> {
        let client = self.client.clone();
        let sql = postgres_text(sql);
        self.backend.run(async move {
            let stmt = client.prepare_cached(&sql).await?;
            let params = bound(&values);
            Ok(client.execute(&stmt, &params).await?)
        })
    }

    fn query_values(&mut self, sql: &str, values: Vec<Value>) -> DbResult<Vec<Row>> {
        let client = self.client.clone();
        let sql = postgres_text(sql);
        self.backend.run(async move {
            let stmt = client.prepare_cached(&sql).await?;
            let params = bound(&values);
            client
                .query(&stmt, &params)
                .await?
                .iter()
                .map(from_postgres)
                .collect()
        })
    }
}

impl PgConn<'_> {
    /// Runs statements without parameters (`BEGIN`, `COMMIT`, a migration).
    pub(super) fn batch(&mut self, sql: &str) -> DbResult<()> {
        let client = self.client.clone();
        let sql = sql.to_owned();
        self.backend
            .run(async move { Ok(client.batch_execute(&sql).await?) })
    }
}

/// Whether PostgreSQL aborted a transaction so that it can be run again: a serialization
/// failure or a deadlock.
pub(super) fn retryable(error: &DbError) -> bool {
    match error {
        DbError::Postgres(e) => e.code().is_some_and(|c| {
            *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                || *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_parameters_are_numbered() {
        assert_eq!(
            postgres_text("SELECT a FROM t WHERE b = ?1 AND c = ?2 OR d = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c = $2 OR d = $1"
        );
        assert_eq!(
            postgres_text("x LIKE ? ESCAPE '\\' AND y > ? LIMIT ? OFFSET ?"),
            "x LIKE $1 ESCAPE '\\' AND y > $2 LIMIT $3 OFFSET $4"
        );
        assert_eq!(postgres_text("SELECT '?' , ?"), "SELECT '?' , $1");
    }

    #[test]
    fn a_column_of_the_wrong_type_is_an_error() {
        let row = Row {
            values: vec![Value::Text("x".into()), Value::Null, Value::Int(7)],
        };
        assert!(matches!(row.get::<i64>(0), Err(DbError::Column(0, _))));
        assert_eq!(row.get::<Option<i64>>(1).unwrap(), None);
        assert!(row.get::<i64>(1).is_err());
        assert!(row.get::<bool>(2).unwrap());
        assert!(matches!(row.get::<i64>(3), Err(DbError::Column(3, _))));
        assert!(row.get::<u32>(2).is_ok());
        let negative = Row {
            values: vec![Value::Int(-1)],
        };
        assert!(negative.get::<u32>(0).is_err());
    }
}
