//! A task's field values (`{field_id: value}`, only the fields that have one), parsed against
//! the project's field definitions, and carried to another project when the task moves.

use std::collections::HashMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Field, FieldKind, TEXT_MAX};
use crate::error::{FieldError, FieldErrors};
use crate::tasks::domain::parse_date;

/// A task's values by field id, all valid for the fields of the task's project.
pub type Values = Map<String, Value>;

/// One value as the OpenAPI document describes it: each kind is one JSON type, so exactly one
/// of these matches any value.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum FieldValue {
    /// `text` (at most 2,000 characters), `date` (`YYYY-MM-DD`), `select` (an option's id),
    /// `user` (a member's id), `url` (http or https).
    Text(String),
    /// `number`: a finite JSON number.
    Number(f64),
    /// `checkbox` (`false` is a value).
    Checkbox(bool),
    /// `multi_select`: option ids, each at most once.
    Options(Vec<Uuid>),
}

/// A patch of values (`{field_id: value | null}`): `null` clears the field.
pub fn patch_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{
        AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type,
    };
    use utoipa::openapi::{Ref, RefOr};
    let value = OneOfBuilder::new()
        .item(Ref::from_schema_name("FieldValue"))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build();
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::OneOf(
            value,
        )))))
        .description(Some(
            "Values by field id, a partial update: `null` clears a field, fields left out keep              their values",
        ))
        .build()
}

fn invalid(field: &Field, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("fields.{}", field.id), code, message)
}

fn option_id(field: &Field, raw: &Value) -> Result<Uuid, FieldError> {
    raw.as_str()
        .and_then(|s| s.parse::<Uuid>().ok())
        .filter(|id| field.option(*id).is_some())
        .ok_or_else(|| {
            invalid(
                field,
                "unknown_option",
                "must be the id of an option of the field",
            )
        })
}

/// The value `raw` for `field`, as stored; `None` clears the field (`null`, or a
/// `multi_select`'s empty list).
pub fn parse_value(field: &Field, raw: &Value) -> Result<Option<Value>, FieldError> {
    if raw.is_null() {
        return Ok(None);
    }
    let value = match field.kind {
        FieldKind::Text => match raw.as_str() {
            Some(text) if text.chars().count() > TEXT_MAX => {
                return Err(invalid(
                    field,
                    "too_long",
                    format!("must be at most {TEXT_MAX} characters"),
                ))
            }
            Some("") => None,
            Some(text) => Some(Value::from(text)),
            None => return Err(invalid(field, "invalid_type", "must be a string")),
        },
        FieldKind::Number => match raw.as_f64() {
            Some(number) if number.is_finite() => Some(raw.clone()),
            _ => return Err(invalid(field, "invalid_type", "must be a finite number")),
        },
        FieldKind::Date => {
            let date = raw
                .as_str()
                .ok_or_else(|| invalid(field, "invalid_type", "must be a date like 2026-01-31"))?;
            parse_date(&format!("fields.{}", field.id), date)?;
            Some(raw.clone())
        }
        FieldKind::Checkbox => match raw {
            Value::Bool(_) => Some(raw.clone()),
            _ => return Err(invalid(field, "invalid_type", "must be true or false")),
        },
        FieldKind::Select => Some(Value::from(option_id(field, raw)?.to_string())),
        FieldKind::MultiSelect => {
            let items = raw
                .as_array()
                .ok_or_else(|| invalid(field, "invalid_type", "must be a list of option ids"))?;
            if items.len() > field.options().len() {
                return Err(invalid(
                    field,
                    "too_many",
                    "names more options than the field has",
                ));
            }
            let mut chosen = Vec::with_capacity(items.len());
            for item in items {
                let id = option_id(field, item)?;
                if chosen.contains(&id) {
                    return Err(invalid(field, "duplicate", "names an option twice"));
                }
                chosen.push(id);
            }
            // Stored in the field's order, so equal choices are equal values.
            let ordered: Vec<Value> = field
                .options()
                .iter()
                .filter(|o| chosen.contains(&o.id))
                .map(|o| Value::from(o.id.to_string()))
                .collect();
            (!ordered.is_empty()).then_some(Value::Array(ordered))
        }
        FieldKind::User => {
            let id = raw
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok())
                .ok_or_else(|| invalid(field, "invalid_type", "must be a user id"))?;
            Some(Value::from(id.to_string()))
        }
        FieldKind::Url => {
            let text = raw
                .as_str()
                .ok_or_else(|| invalid(field, "invalid_type", "must be an http(s) URL"))?;
            let ok = text.chars().count() <= TEXT_MAX
                && url::Url::parse(text).is_ok_and(|u| {
                    matches!(u.scheme(), "http" | "https") && u.host_str().is_some()
                });
            if !ok {
                return Err(invalid(field, "invalid", "must be an http(s) URL"));
            }
            Some(raw.clone())
        }
    };
    Ok(value)
}

/// `current` with the partial update `patch` (`{field_id: value | null}`) applied, every key
/// a field of `fields` and every value valid for it; every invalid one is named.
pub fn apply(fields: &[Field], current: &Values, patch: &Values) -> Result<Values, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut values = current.clone();
    for (key, raw) in patch {
        let Some(field) = fields.iter().find(|f| f.id.to_string() == *key) else {
            errors.push_with(|| {
                FieldError::new(
                    format!("fields.{key}"),
                    "not_found",
                    "no such field in the task's project",
                )
            });
            continue;
        };
        match parse_value(field, raw) {
            Ok(Some(value)) => {
                values.insert(key.clone(), value);
            }
            Ok(None) => {
                values.remove(key);
            }
            Err(error) => errors.push_with(|| error),
        }
    }
    if errors.total() == 0 {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// The required fields without a value (for a new task).
pub fn missing_required(fields: &[Field], values: &Values) -> Vec<FieldError> {
    fields
        .iter()
        .filter(|f| f.required && !values.contains_key(&f.id.to_string()))
        .map(|f| invalid(f, "required", format!("\"{}\" is required", f.name)))
        .collect()
}

/// The users that the `user` values of `values` name, with their field ids.
pub fn users(fields: &[Field], values: &Values) -> Vec<(String, Uuid)> {
    fields
        .iter()
        .filter(|f| f.kind == FieldKind::User)
        .filter_map(|f| {
            let key = f.id.to_string();
            let user = values.get(&key)?.as_str()?.parse().ok()?;
            Some((key, user))
        })
        .collect()
}

/// How values move from one project's fields to another's: a value is kept when the target has
/// a field of the same name (case-insensitively) and kind, a `select`'s options by name, a
/// `user` value when they are a member there.
pub struct Carry {
    /// Source field id → (source field, target field).
    pairs: HashMap<String, (Field, Field)>,
}

impl Carry {
    pub fn between(from: &[Field], to: &[Field]) -> Self {
        let pairs = from
            .iter()
            .filter_map(|source| {
                let target = to.iter().find(|t| {
                    t.kind == source.kind && t.name.to_lowercase() == source.name.to_lowercase()
                })?;
                Some((source.id.to_string(), (source.clone(), target.clone())))
            })
            .collect();
        Self { pairs }
    }

    /// The users `values` name in `user` fields that would be carried.
    pub fn users(&self, values: &Values) -> Vec<Uuid> {
        values
            .iter()
            .filter(|(key, _)| {
                self.pairs
                    .get(*key)
                    .is_some_and(|(s, _)| s.kind == FieldKind::User)
            })
            .filter_map(|(_, v)| v.as_str()?.parse().ok())
            .collect()
    }

    /// The values in the target's fields, and those dropped (source field id, value).
    pub fn apply(&self, values: &Values, members: &[Uuid]) -> (Values, Vec<(String, Value)>) {
        let mut carried = Values::new();
        let mut dropped = Vec::new();
        for (key, value) in values {
            match self
                .pairs
                .get(key)
                .and_then(|(s, t)| translate(s, t, value, members))
            {
                Some(value) => {
                    carried.insert(self.pairs[key].1.id.to_string(), value);
                }
                None => dropped.push((key.clone(), value.clone())),
            }
        }
        (carried, dropped)
    }
}

/// A value of `source` as a value of `target` (same kind), if it has one there.
fn translate(source: &Field, target: &Field, value: &Value, members: &[Uuid]) -> Option<Value> {
    let same_option = |raw: &Value| -> Option<Uuid> {
        let id: Uuid = raw.as_str()?.parse().ok()?;
        let name = source.option(id)?.name.to_lowercase();
        target
            .options()
            .iter()
            .find(|o| o.name.to_lowercase() == name)
            .map(|o| o.id)
    };
    match source.kind {
        FieldKind::Select => same_option(value).map(|id| Value::from(id.to_string())),
        FieldKind::MultiSelect => {
            let chosen: Vec<Uuid> = value.as_array()?.iter().filter_map(same_option).collect();
            let ordered: Vec<Value> = target
                .options()
                .iter()
                .filter(|o| chosen.contains(&o.id))
                .map(|o| Value::from(o.id.to_string()))
                .collect();
            (!ordered.is_empty()).then_some(Value::Array(ordered))
        }
        FieldKind::User => {
            let user: Uuid = value.as_str()?.parse().ok()?;
            members.contains(&user).then(|| value.clone())
        }
        _ => Some(value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fields::FieldOption;

    fn field(name: &str, kind: FieldKind, options: &[&str]) -> Field {
        Field {
            id: Uuid::now_v7(),
            project_id: Uuid::nil(),
            name: name.to_owned(),
            kind,
            options: kind.has_options().then(|| {
                options
                    .iter()
                    .map(|name| FieldOption {
                        id: Uuid::now_v7(),
                        name: (*name).to_owned(),
                        color: "#000000".to_owned(),
                    })
                    .collect()
            }),
            required: false,
            position: 0,
        }
    }

    #[test]
    fn each_kind_takes_its_values_and_refuses_others() {
        let select = field("Size", FieldKind::Select, &["S", "M"]);
        let multi = field("Tags", FieldKind::MultiSelect, &["a", "b"]);
        let (s, m) = (select.options()[0].id, multi.options()[1].id);
        let a = multi.options()[0].id;
        let good = [
            (field("t", FieldKind::Text, &[]), json!("hi")),
            (field("n", FieldKind::Number, &[]), json!(-1.5)),
            (field("d", FieldKind::Date, &[]), json!("2026-02-28")),
            (field("c", FieldKind::Checkbox, &[]), json!(false)),
            (select.clone(), json!(s.to_string())),
            (field("u", FieldKind::User, &[]), json!(Uuid::nil())),
            (
                field("w", FieldKind::Url, &[]),
                json!("https://example.com/x"),
            ),
        ];
        for (f, v) in &good {
            assert_eq!(parse_value(f, v).unwrap().as_ref(), Some(v), "{v}");
        }
        assert_eq!(
            parse_value(&multi, &json!([m, a])).unwrap(),
            Some(json!([a, m]))
        );
        assert_eq!(parse_value(&multi, &json!([])).unwrap(), None);
        let bad = [
            (field("t", FieldKind::Text, &[]), json!("x".repeat(2001))),
            (field("t", FieldKind::Text, &[]), json!(3)),
            (field("n", FieldKind::Number, &[]), json!("3")),
            (field("d", FieldKind::Date, &[]), json!("2026-02-30")),
            (field("c", FieldKind::Checkbox, &[]), json!("true")),
            (select.clone(), json!(Uuid::nil())),
            (select.clone(), json!(m)),
            (multi.clone(), json!([a, a])),
            (multi.clone(), json!(a)),
            (field("u", FieldKind::User, &[]), json!("me")),
            (
                field("w", FieldKind::Url, &[]),
                json!("javascript:alert(1)"),
            ),
            (field("w", FieldKind::Url, &[]), json!("ftp://example.com")),
        ];
        for (f, v) in &bad {
            let error = parse_value(f, v).unwrap_err();
            assert_eq!(error.field, format!("fields.{}", f.id), "{v}");
        }
    }

    #[test]
    fn a_patch_names_every_bad_value_and_clears_with_null() {
        let text = field("t", FieldKind::Text, &[]);
        let number = field("n", FieldKind::Number, &[]);
        let current: Values = [(text.id.to_string(), json!("old"))].into_iter().collect();
        let fields = [text.clone(), number.clone()];
        let patch: Values = [
            (text.id.to_string(), Value::Null),
            (number.id.to_string(), json!(2)),
        ]
        .into_iter()
        .collect();
        let values = apply(&fields, &current, &patch).unwrap();
        assert_eq!(Value::Object(values), json!({ number.id.to_string(): 2 }));
        let patch: Values = [
            (text.id.to_string(), json!(1)),
            (number.id.to_string(), json!("x")),
            ("nope".to_owned(), json!(1)),
        ]
        .into_iter()
        .collect();
        assert_eq!(apply(&fields, &current, &patch).unwrap_err().total(), 3);
    }

    #[test]
    fn values_carry_by_name_and_kind() {
        let from = [
            field("Size", FieldKind::Select, &["S", "M"]),
            field("Points", FieldKind::Number, &[]),
            field("Owner", FieldKind::User, &[]),
            field("Notes", FieldKind::Text, &[]),
        ];
        let to = [
            field("size", FieldKind::Select, &["m", "L"]),
            field("Points", FieldKind::Text, &[]),
            field("Owner", FieldKind::User, &[]),
        ];
        let (member, stranger) = (Uuid::now_v7(), Uuid::now_v7());
        let values: Values = [
            (from[0].id.to_string(), json!(from[0].options()[1].id)),
            (from[1].id.to_string(), json!(3)),
            (from[2].id.to_string(), json!(stranger)),
            (from[3].id.to_string(), json!("n")),
        ]
        .into_iter()
        .collect();
        let carry = Carry::between(&from, &to);
        assert_eq!(carry.users(&values), [stranger]);
        let (carried, dropped) = carry.apply(&values, &[member]);
        assert_eq!(
            Value::Object(carried),
            json!({ to[0].id.to_string(): to[0].options()[0].id })
        );
        assert_eq!(dropped.len(), 3);
    }
}
