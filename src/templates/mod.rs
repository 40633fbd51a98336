//! Creating a project, empty or as a copy of another (API.md §3, §18 templates). A copy is one
//! transaction above the stores it writes (projects, states, fields, tasks, relations, views),
//! each copying its rows set-based through an old → new id map (`db::IdMap`): a few statements
//! whatever the number of tasks.

pub mod handlers;

use crate::error::FieldError;

/// A part of a project a copy can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    States,
    Fields,
    Tasks,
    Views,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::States, Part::Fields, Part::Tasks, Part::Views];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::States => "states",
            Part::Fields => "fields",
            Part::Tasks => "tasks",
            Part::Views => "views",
        }
    }
}

/// The parts a copy takes (each at most once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Include {
    pub states: bool,
    pub fields: bool,
    pub tasks: bool,
    pub views: bool,
}

impl Include {
    pub const EVERYTHING: Include = Include {
        states: true,
        fields: true,
        tasks: true,
        views: true,
    };

    /// `include` as sent: every unknown part named (`include.<index>`).
    pub fn parse(raw: &[String], errors: &mut Vec<FieldError>) -> Include {
        let mut include = Include::default();
        for (index, name) in raw.iter().enumerate() {
            match Part::ALL.into_iter().find(|p| p.as_str() == name) {
                Some(Part::States) => include.states = true,
                Some(Part::Fields) => include.fields = true,
                Some(Part::Tasks) => include.tasks = true,
                Some(Part::Views) => include.views = true,
                None => errors.push(FieldError::new(
                    format!("include.{index}"),
                    "invalid_value",
                    "must be one of states, fields, tasks, views",
                )),
            }
        }
        include
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_names_every_unknown_part() {
        let mut errors = Vec::new();
        let raw = ["tasks", "comments", "views", "tasks", "Tasks"].map(String::from);
        let include = Include::parse(&raw, &mut errors);
        assert_eq!(
            include,
            Include {
                tasks: true,
                views: true,
                ..Include::default()
            }
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["include.1", "include.4"]);
    }
}
