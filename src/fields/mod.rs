//! Custom fields (API.md §18): a project's field definitions (`store`, `handlers`) and the
//! values tasks hold for them (`values`: parsed against the definitions, carried to another
//! project on a move). The tasks store keeps the values on the task row (`tasks.fields`).

pub mod handlers;
pub mod store;
pub mod values;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{FieldError, FieldErrors};
use crate::states::Color;

pub const NAME_MAX: usize = 50;
pub const OPTIONS_MAX: usize = 100;
pub const TEXT_MAX: usize = 2_000;

/// The eight kinds of field; a field's kind is fixed once created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    Date,
    Checkbox,
    Select,
    MultiSelect,
    User,
    Url,
}

impl FieldKind {
    pub const ALL: [FieldKind; 8] = [
        FieldKind::Text,
        FieldKind::Number,
        FieldKind::Date,
        FieldKind::Checkbox,
        FieldKind::Select,
        FieldKind::MultiSelect,
        FieldKind::User,
        FieldKind::Url,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Checkbox => "checkbox",
            FieldKind::Select => "select",
            FieldKind::MultiSelect => "multi_select",
            FieldKind::User => "user",
            FieldKind::Url => "url",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// Kinds whose values are options of the field.
    pub fn has_options(self) -> bool {
        matches!(self, FieldKind::Select | FieldKind::MultiSelect)
    }
}

crate::text_enum!(FieldKind, FieldKind::parse);

/// A name of a field or an option: 1–50 characters once trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldName(String);

impl FieldName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let length = name.chars().count();
        if length == 0 || length > NAME_MAX {
            let code = if length == 0 { "required" } else { "too_long" };
            return Err(FieldError::new(
                field,
                code,
                format!("must be 1 to {NAME_MAX} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "invalid",
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::deserialize_by_parse!(FieldName, String, |raw| FieldName::parse("name", &raw)
    .map_err(|e| vec![e]));

/// An option of a `select` or `multi_select` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldOption {
    pub id: Uuid,
    /// 1–50 characters, unique in the field (case-insensitively).
    pub name: String,
    /// `#rrggbb`, lower-case.
    pub color: String,
}

/// A custom field of a project.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Field {
    pub id: Uuid,
    pub project_id: Uuid,
    /// 1–50 characters, unique in the project (case-insensitively).
    pub name: String,
    pub kind: FieldKind,
    /// The choices of a `select` or `multi_select` field (absent for other kinds), in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<FieldOption>>,
    /// A new task must have a value (old tasks are not invalidated).
    pub required: bool,
    /// 0, 1, 2 … in the project's order.
    pub position: i32,
}

impl Field {
    pub fn options(&self) -> &[FieldOption] {
        self.options.as_deref().unwrap_or_default()
    }

    pub fn option(&self, id: Uuid) -> Option<&FieldOption> {
        self.options().iter().find(|o| o.id == id)
    }
}

/// The fields of a project, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldList {
    pub items: Vec<Field>,
}

/// An option as a request gives it: an existing one with its `id`, a new one without.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionInput {
    /// An option of this field (kept, renamed or recoloured); absent for a new option.
    pub id: Option<Uuid>,
    /// 1–50 characters once trimmed, unique in the field (case-insensitively).
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    /// `#rrggbb` (absent: grey).
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
}

const DEFAULT_OPTION_COLOR: &str = "#6b7280";

/// The whole new list of a field's options: every name and colour valid, names distinct, ids
/// those of `existing` (new options get one). Every invalid entry is named.
pub fn parse_options(
    raw: &[OptionInput],
    existing: &[FieldOption],
) -> Result<Vec<FieldOption>, FieldErrors> {
    let mut errors = FieldErrors::default();
    if raw.len() > OPTIONS_MAX {
        errors.push_with(|| {
            FieldError::new(
                "options",
                "too_many",
                format!("must have at most {OPTIONS_MAX} options"),
            )
        });
        return Err(errors);
    }
    let mut options: Vec<FieldOption> = Vec::with_capacity(raw.len());
    let mut names = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for (index, input) in raw.iter().enumerate() {
        let name = match FieldName::parse(&format!("options.{index}.name"), &input.name) {
            Ok(name) => name,
            Err(error) => {
                errors.push_with(|| error);
                continue;
            }
        };
        if !names.insert(name.as_str().to_lowercase()) {
            errors.push_with(|| {
                FieldError::new(
                    format!("options.{index}.name"),
                    "duplicate",
                    "another option of the field has that name",
                )
            });
        }
        let color = match input.color.as_deref() {
            None => DEFAULT_OPTION_COLOR.to_owned(),
            Some(raw) => match Color::parse(raw) {
                Ok(color) => color.as_str().to_owned(),
                Err(_) => {
                    errors.push_with(|| {
                        FieldError::new(
                            format!("options.{index}.color"),
                            "invalid",
                            "must be a colour like #1f883d",
                        )
                    });
                    continue;
                }
            },
        };
        let id = match input.id {
            None => Uuid::now_v7(),
            Some(id) if existing.iter().any(|o| o.id == id) && ids.insert(id) => id,
            Some(_) => {
                errors.push_with(|| {
                    FieldError::new(
                        format!("options.{index}.id"),
                        "not_found",
                        "no such option of this field (a new option comes without an id)",
                    )
                });
                continue;
            }
        };
        options.push(FieldOption {
            id,
            name: name.as_str().to_owned(),
            color,
        });
    }
    if errors.total() == 0 {
        Ok(options)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: Option<Uuid>, name: &str, color: Option<&str>) -> OptionInput {
        OptionInput {
            id,
            name: name.to_owned(),
            color: color.map(str::to_owned),
        }
    }

    #[test]
    fn options_keep_their_ids_and_name_every_error() {
        let existing = parse_options(&[input(None, "Low", None)], &[]).unwrap();
        assert_eq!(existing[0].color, DEFAULT_OPTION_COLOR);
        let renamed = parse_options(
            &[
                input(Some(existing[0].id), "Lowest", Some("#AABBCC")),
                input(None, "High", None),
            ],
            &existing,
        )
        .unwrap();
        assert_eq!(renamed[0].id, existing[0].id);
        assert_eq!(renamed[0].color, "#aabbcc");
        let errors = parse_options(
            &[
                input(Some(Uuid::now_v7()), "x", None),
                input(None, " ", None),
                input(None, "a", Some("red")),
                input(None, "A", None),
                input(None, "a", None),
            ],
            &existing,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "options.0.id",
                "options.1.name",
                "options.2.color",
                "options.3.name",
                "options.4.name"
            ]
        );
        let many: Vec<OptionInput> = (0..101)
            .map(|i| input(None, &format!("o{i}"), None))
            .collect();
        assert_eq!(parse_options(&many, &[]).unwrap_err()[0].code, "too_many");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in FieldKind::ALL {
            assert_eq!(FieldKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FieldKind::parse("enum"), None);
    }
}
