//! A Trello board export (`POST /api/v1/projects/import` with Trello's JSON) as a project
//! (API.md §15, Trello): lists become workflow states, cards tasks, checklist items subtasks,
//! `commentCard` actions comments. Nothing in a real export is refused that a cut can fix:
//! long names are cut, unnamed labels take their colour, duplicate list names are numbered.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::comments::CommentBody;
use crate::db::Tx;
use crate::error::{ApiError, FieldError};
use crate::projects::access::ProjectAccess;
use crate::quotas;
use crate::states::store::{self as states, ImportedState};
use crate::states::{Color, StateName};
use crate::tasks::domain::{Description, Labels, Status, TaskTitle};
use crate::tasks::moves::keys_between;
use crate::tasks::store::{self as tasks, ImportedTask, TaskFields};

/// Tasks written per statement.
const BATCH: usize = 1000;

#[derive(Deserialize)]
pub struct Board {
    pub name: String,
    #[serde(default)]
    desc: String,
    lists: Vec<List>,
    cards: Vec<Card>,
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    checklists: Vec<Checklist>,
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct List {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    pos: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Card {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    desc: String,
    #[serde(default)]
    closed: bool,
    id_list: String,
    #[serde(default)]
    pos: f64,
    due: Option<String>,
    #[serde(default)]
    id_labels: Vec<String>,
}

#[derive(Deserialize)]
struct Label {
    id: String,
    name: Option<String>,
    color: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checklist {
    id_card: String,
    #[serde(default)]
    pos: f64,
    #[serde(default)]
    check_items: Vec<CheckItem>,
}

#[derive(Deserialize)]
struct CheckItem {
    #[serde(default)]
    name: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    pos: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Action {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    data: ActionData,
    member_creator: Option<Member>,
}

#[derive(Deserialize, Default)]
struct ActionData {
    text: Option<String>,
    card: Option<CardRef>,
}

#[derive(Deserialize)]
struct CardRef {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    full_name: Option<String>,
    username: Option<String>,
}

/// Whether a JSON document is a Trello board export: its top level has Trello's `lists`,
/// `cards` and `actions` (read without building anything).
pub fn is_board(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        lists: Option<serde::de::IgnoredAny>,
        cards: Option<serde::de::IgnoredAny>,
        actions: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(bytes)
        .is_ok_and(|p| p.lists.is_some() && p.cards.is_some() && p.actions.is_some())
}

pub fn parse(bytes: &[u8]) -> Result<Board, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::validation(vec![FieldError::new(
            "",
            "invalid",
            format!("not a Trello board export: {error}"),
        )])
    })
}

impl Board {
    /// The board's description, cut to fit a project's.
    pub fn description(&self) -> String {
        self.desc.chars().take(2000).collect()
    }
}

/// A list's category from the whole words of its name, ignoring case, emoji and punctuation.
pub fn category_of(name: &str) -> Status {
    let lower = name.to_lowercase();
    let words = lower.split(|c: char| !c.is_alphanumeric());
    let mut category = Status::Todo;
    for word in words {
        match word {
            "done" | "complete" | "completed" | "finished" | "shipped" => return Status::Done,
            "doing" | "progress" | "review" | "wip" => category = Status::InProgress,
            _ => {}
        }
    }
    category
}

const DEFAULTS: [(&str, Status, &str); 4] = [
    ("To do", Status::Todo, "#6b7280"),
    ("In progress", Status::InProgress, "#2563eb"),
    ("Done", Status::Done, "#16a34a"),
    ("Canceled", Status::Canceled, "#9ca3af"),
];

fn color_of(category: Status) -> &'static str {
    DEFAULTS
        .iter()
        .find(|d| d.1 == category)
        .map_or("#6b7280", |d| d.2)
}

/// A state name from `raw`, unique among `taken` (case-insensitively): cut to 50 characters,
/// numbered when it repeats.
fn state_name(raw: &str, fallback: &str, taken: &mut Vec<String>) -> Result<StateName, ApiError> {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let base: String = match cleaned.trim() {
        "" => fallback.to_owned(),
        name => name.chars().take(44).collect::<String>().trim().to_owned(),
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name.to_lowercase()) {
        name = format!("{base} ({n})");
        n += 1;
    }
    taken.push(name.to_lowercase());
    StateName::parse(&name).map_err(|e| ApiError::validation(vec![e]))
}

/// Makes the project's states from the board's open lists; returns each open list's state and
/// the default state of each category.
async fn make_states(
    tx: &Tx,
    access: &ProjectAccess,
    lists: &[&List],
) -> Result<(HashMap<String, Uuid>, HashMap<&'static str, Uuid>), ApiError> {
    if lists.len() as i64 > quotas::STATES_PER_PROJECT - 3 {
        return Err(quotas::exceeded(
            "workflow states per project (open lists)",
            quotas::STATES_PER_PROJECT,
        ));
    }
    let mut taken = Vec::new();
    let mut planned = Vec::new();
    for (index, list) in lists.iter().enumerate() {
        let category = category_of(&list.name);
        let is_default = !planned
            .iter()
            .any(|s: &ImportedState| s.category == category);
        planned.push(ImportedState {
            name: state_name(&list.name, &format!("List {}", index + 1), &mut taken)?,
            category,
            color: Color::parse(color_of(category)).expect("a colour"),
            is_default,
        });
    }
    for (name, category, color) in DEFAULTS {
        if !planned.iter().any(|s| s.category == category) {
            planned.push(ImportedState {
                name: state_name(name, name, &mut taken)?,
                category,
                color: Color::parse(color).expect("a colour"),
                is_default: true,
            });
        }
    }
    let made = states::replace_for_import(tx, access, &planned).await?;
    let by_list = lists
        .iter()
        .zip(&made)
        .map(|(list, state)| (list.id.clone(), state.id))
        .collect();
    let defaults = made
        .iter()
        .filter(|s| s.is_default)
        .map(|s| (s.category.as_str(), s.id))
        .collect();
    Ok((by_list, defaults))
}

/// The board into the project `access` entered (just created, in `tx`). `archived`: closed
/// cards and cards of closed lists too.
pub async fn import(
    tx: &Tx,
    access: &ProjectAccess,
    board: Board,
    archived: bool,
    progress: &super::Progress,
) -> Result<(), ApiError> {
    let mut lists: Vec<&List> = board.lists.iter().filter(|l| !l.closed).collect();
    lists.sort_by(|a, b| a.pos.total_cmp(&b.pos));
    let (state_of_list, defaults) = make_states(tx, access, &lists).await?;
    let closed_lists: Vec<&str> = board
        .lists
        .iter()
        .filter(|l| l.closed)
        .map(|l| l.id.as_str())
        .collect();
    let list_order: HashMap<&str, usize> = lists
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();
    let mut cards: Vec<&Card> = board
        .cards
        .iter()
        .filter(|c| {
            archived
                || (!c.closed
                    && list_order.contains_key(c.id_list.as_str())
                    && !closed_lists.contains(&c.id_list.as_str()))
        })
        .collect();
    // Cards keep their order within a list; lists in board order, closed lists' cards last.
    cards.sort_by(|a, b| {
        let la = list_order.get(a.id_list.as_str()).unwrap_or(&usize::MAX);
        let lb = list_order.get(b.id_list.as_str()).unwrap_or(&usize::MAX);
        la.cmp(lb).then(a.pos.total_cmp(&b.pos))
    });
    let labels: HashMap<&str, String> = board
        .labels
        .iter()
        .filter_map(|l| {
            let name = l
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .or(l.color.as_deref().filter(|c| !c.is_empty()))?;
            Some((l.id.as_str(), name.to_owned()))
        })
        .collect();
    let mut checklists: Vec<&Checklist> = board.checklists.iter().collect();
    checklists.sort_by(|a, b| a.pos.total_cmp(&b.pos));
    let mut items_of: HashMap<&str, Vec<&CheckItem>> = HashMap::new();
    for checklist in checklists {
        let mut items: Vec<&CheckItem> = checklist.check_items.iter().collect();
        items.sort_by(|a, b| a.pos.total_cmp(&b.pos));
        items_of
            .entry(checklist.id_card.as_str())
            .or_default()
            .extend(items);
    }
    let mut comments_of: HashMap<&str, Vec<&Action>> = HashMap::new();
    // Trello lists actions newest first.
    for action in board.actions.iter().rev() {
        if let (true, Some(card)) = (action.kind == "commentCard", &action.data.card) {
            comments_of
                .entry(card.id.as_str())
                .or_default()
                .push(action);
        }
    }
    let subtasks: usize = cards
        .iter()
        .map(|c| items_of.get(c.id.as_str()).map_or(0, Vec::len))
        .sum();
    if (cards.len() + subtasks) as i64 > quotas::TASKS_PER_PROJECT {
        return Err(quotas::exceeded(
            "tasks per project",
            quotas::TASKS_PER_PROJECT,
        ));
    }
    let mut keys = keys_between(None, None, cards.len() + subtasks)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no manual-order keys")))?
        .into_iter();

    let mut made: HashMap<&str, Uuid> = HashMap::new();
    for batch in cards.chunks(BATCH) {
        let rows: Vec<ImportedTask> = batch
            .iter()
            .map(|card| {
                let state = state_of_list
                    .get(&card.id_list)
                    .copied()
                    .or_else(|| defaults.get("todo").copied());
                let category = lists
                    .iter()
                    .find(|l| l.id == card.id_list)
                    .map_or(Status::Todo, |l| category_of(&l.name));
                let names: Vec<String> = card
                    .id_labels
                    .iter()
                    .filter_map(|id| labels.get(id.as_str()).cloned())
                    .collect();
                ImportedTask {
                    fields: TaskFields {
                        title: TaskTitle::truncating(&card.name).as_str().to_owned(),
                        description: Description::truncating(&card.desc.replace('\0', ""))
                            .as_str()
                            .to_owned(),
                        status: category,
                        state_id: state,
                        priority: 0,
                        due_date: card
                            .due
                            .as_deref()
                            .and_then(|d| d.parse::<DateTime<Utc>>().ok())
                            .map(|d| d.date_naive()),
                        labels: Labels::truncating(&names).as_slice().to_vec(),
                        assignee_id: None,
                        parent_id: None,
                        start_date: None,
                        due_time: None,
                        recurrence: None,
                        fields: Default::default(),
                    },
                    position: keys.next().expect("a key per task"),
                }
            })
            .collect();
        let created = tasks::insert_imported(tx, access, &rows).await?;
        let mut bodies = Vec::new();
        for (card, task) in batch.iter().zip(&created) {
            made.insert(card.id.as_str(), task.id);
            for action in comments_of.get(card.id.as_str()).into_iter().flatten() {
                bodies.push((task.id, comment(action)?));
            }
        }
        crate::comments::store::insert_imported(tx, access, &bodies).await?;
        progress.tick();
    }
    let mut pending = Vec::new();
    for card in &cards {
        for item in items_of.get(card.id.as_str()).into_iter().flatten() {
            let done = item.state == "complete";
            pending.push(ImportedTask {
                fields: TaskFields {
                    title: TaskTitle::truncating(&item.name).as_str().to_owned(),
                    description: String::new(),
                    status: if done { Status::Done } else { Status::Todo },
                    state_id: None,
                    priority: 0,
                    due_date: None,
                    labels: Vec::new(),
                    assignee_id: None,
                    parent_id: made.get(card.id.as_str()).copied(),
                    start_date: None,
                    due_time: None,
                    recurrence: None,
                    fields: Default::default(),
                },
                position: keys.next().expect("a key per task"),
            });
            if pending.len() >= BATCH {
                tasks::insert_imported(tx, access, &pending).await?;
                pending.clear();
                progress.tick();
            }
        }
    }
    tasks::insert_imported(tx, access, &pending).await?;
    Ok(())
}

/// A comment by the importer with the original author's full name and date at the top.
fn comment(action: &Action) -> Result<CommentBody, ApiError> {
    let author = action
        .member_creator
        .as_ref()
        .and_then(|m| m.full_name.as_deref().or(m.username.as_deref()))
        .unwrap_or("someone");
    let text = action.data.text.as_deref().unwrap_or("");
    super::comment_body(author, &action.date, text).map_err(|e| ApiError::validation(vec![e]))
}
