//! The PostgreSQL type of each Rust type Docket binds, so that a statement's parameter types
//! are known without asking the server (see `db/mod.rs`).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

/// A parameter with its PostgreSQL type.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// A value that can be bound, with its PostgreSQL type.
pub trait PgParam: ToSql + Sync {
    const TYPE: Type;
}

/// One typed parameter; `params!` calls this for each value.
pub fn typed<T: PgParam>(value: &T) -> Param<'_> {
    (value, T::TYPE)
}

macro_rules! pg_param {
    ($($rust:ty => $pg:expr),+ $(,)?) => {
        $(impl PgParam for $rust {
            const TYPE: Type = $pg;
        })+
    };
}

pg_param! {
    bool => Type::BOOL,
    i16 => Type::INT2,
    i32 => Type::INT4,
    i64 => Type::INT8,
    f64 => Type::FLOAT8,
    String => Type::TEXT,
    &str => Type::TEXT,
    Uuid => Type::UUID,
    DateTime<Utc> => Type::TIMESTAMPTZ,
    NaiveDate => Type::DATE,
    NaiveTime => Type::TIME,
    Vec<u8> => Type::BYTEA,
    &[u8] => Type::BYTEA,
    Vec<String> => Type::TEXT_ARRAY,
    &[String] => Type::TEXT_ARRAY,
    Vec<&str> => Type::TEXT_ARRAY,
    Vec<Option<String>> => Type::TEXT_ARRAY,
    Vec<Uuid> => Type::UUID_ARRAY,
    Vec<Option<Uuid>> => Type::UUID_ARRAY,
    Vec<i64> => Type::INT8_ARRAY,
    Vec<i32> => Type::INT4_ARRAY,
    Vec<i16> => Type::INT2_ARRAY,
    Vec<Option<i32>> => Type::INT4_ARRAY,
    Vec<bool> => Type::BOOL_ARRAY,
    Vec<DateTime<Utc>> => Type::TIMESTAMPTZ_ARRAY,
    Vec<Option<DateTime<Utc>>> => Type::TIMESTAMPTZ_ARRAY,
    Vec<Option<NaiveDate>> => Type::DATE_ARRAY,
    serde_json::Value => Type::JSONB,
}

/// JSON already written as text, bound as `jsonb` without building a `serde_json::Value` (the
/// binary `jsonb` format is a version byte and the text).
#[derive(Debug)]
pub struct JsonText(pub Vec<u8>);

impl ToSql for JsonText {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.extend_from_slice(&[1]);
        }
        out.extend_from_slice(&self.0);
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    tokio_postgres::types::to_sql_checked!();
}

impl PgParam for JsonText {
    const TYPE: Type = Type::JSONB;
}

impl<T: PgParam> PgParam for Option<T> {
    const TYPE: Type = T::TYPE;
}

impl<T: PgParam> PgParam for &T {
    const TYPE: Type = T::TYPE;
}

/// Implements `ToSql`, `FromSql` and `PgParam` for an enum stored as `text`, through its
/// `as_str` and a parser returning `Option<Self>`: the SQL and the Rust code share one set of
/// spellings, and a value the enum does not know is an error, not a silent default.
#[macro_export]
macro_rules! text_enum {
    ($ty:ty, $parse:path) => {
        impl tokio_postgres::types::ToSql for $ty {
            fn to_sql(
                &self,
                ty: &tokio_postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
            {
                <&str as tokio_postgres::types::ToSql>::to_sql(&self.as_str(), ty, out)
            }
            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::ToSql>::accepts(ty)
            }
            tokio_postgres::types::to_sql_checked!();
        }
        impl<'a> tokio_postgres::types::FromSql<'a> for $ty {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                let text = <&str as tokio_postgres::types::FromSql>::from_sql(ty, raw)?;
                $parse(text).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($ty), " {:?}"), text).into()
                })
            }
            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
        impl $crate::db::PgParam for $ty {
            const TYPE: tokio_postgres::types::Type = tokio_postgres::types::Type::TEXT;
        }
        impl $crate::db::PgParam for Vec<$ty> {
            const TYPE: tokio_postgres::types::Type = tokio_postgres::types::Type::TEXT_ARRAY;
        }
    };
}
