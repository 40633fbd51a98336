//! Manual order (API.md §4): `POST /api/v1/tasks/{id}/move` and the position keys.
//!
//! A position is a fractional-indexing key (the scheme of David Greenspan's
//! `fractional-indexing`, base 62): an integer part whose first character gives its length,
//! then an optional fraction that never ends in `'0'`. Keys compare byte by byte (the column is
//! `COLLATE "C"`), and between any two keys there is always another one, so a move writes one
//! row. New tasks get their key from the database (`task_position_after` in the migration),
//! which is the same scheme's "after the last key".
//!
//! Keys stay short (API.md §9): moving again and again into one gap lengthens the key by about
//! one character every six moves, so a move whose key would pass [`MAX_KEY_LENGTH`] first
//! renumbers the project where it is crowded ([`renumber`]: the long keys get short ones in
//! the same order, no version or activity), then takes a key in the widened gap.
//!
//! A move locks the project's row, so concurrent moves in one project run one after another:
//! each computes its key from committed neighbours, no two tasks get the same key, and no task
//! is lost; a renumbering happens under the same lock, in the move's transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::domain::Status;
use super::handlers::task_response;
use super::store::{self, Beyond, Task};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::db::Tx;
use crate::error::{ApiError, FieldError};
use crate::http::extract::{Json, Path};
use crate::http::preconditions::IfMatch;
use crate::projects::access::{Action, ProjectAccess};
use crate::projects::guard;

type P = crate::error::Problem;

/// The longest key a move writes (API.md §9, "Manual order keys stay short"); the column has
/// the same limit as a check constraint.
pub const MAX_KEY_LENGTH: usize = 64;

const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ZERO: u8 = b'0';

fn digit_value(c: u8) -> Option<usize> {
    DIGITS.iter().position(|d| *d == c)
}

/// Length of the integer part that starts with `head`.
fn integer_length(head: u8) -> Option<usize> {
    match head {
        b'a'..=b'z' => Some((head - b'a') as usize + 2),
        b'A'..=b'Z' => Some((b'Z' - head) as usize + 2),
        _ => None,
    }
}

/// Splits a key into its integer part and fraction; `None` for something that is not a key.
fn split(key: &str) -> Option<(&str, &str)> {
    let bytes = key.as_bytes();
    let length = integer_length(*bytes.first()?)?;
    if bytes.len() < length || !bytes.iter().skip(1).all(|c| digit_value(*c).is_some()) {
        return None;
    }
    let (integer, fraction) = key.split_at(length);
    (fraction.as_bytes().last() != Some(&ZERO)).then_some((integer, fraction))
}

/// A fraction strictly between `a` and `b` (`None`: above everything). Neither ends in '0'.
fn midpoint(a: &[u8], b: Option<&[u8]>) -> Vec<u8> {
    if let Some(b) = b {
        // Skip the common prefix (`a` padded with zeros).
        let mut n = 0;
        while n < b.len() && a.get(n).copied().unwrap_or(ZERO) == b[n] {
            n += 1;
        }
        if n > 0 {
            let mut out = b[..n].to_vec();
            out.extend(midpoint(a.get(n..).unwrap_or(&[]), Some(&b[n..])));
            return out;
        }
    }
    let digit_a = a.first().map_or(0, |c| digit_value(*c).unwrap_or(0));
    let digit_b = b.map_or(DIGITS.len(), |b| digit_value(b[0]).unwrap_or(DIGITS.len()));
    if digit_b - digit_a > 1 {
        return vec![DIGITS[(digit_a + digit_b).div_ceil(2)]];
    }
    match b {
        Some(b) if b.len() > 1 => vec![b[0]],
        _ => {
            let mut out = vec![DIGITS[digit_a]];
            out.extend(midpoint(a.get(1..).unwrap_or(&[]), None));
            out
        }
    }
}

fn increment_integer(x: &str) -> Option<String> {
    let bytes = x.as_bytes();
    let head = bytes[0];
    let mut digits = bytes[1..].to_vec();
    for i in (0..digits.len()).rev() {
        let d = digit_value(digits[i]).unwrap_or(0) + 1;
        if d < DIGITS.len() {
            digits[i] = DIGITS[d];
            return String::from_utf8(std::iter::once(head).chain(digits).collect()).ok();
        }
        digits[i] = ZERO;
    }
    match head {
        b'Z' => Some("a0".to_owned()),
        b'z' => None,
        _ => {
            let next = head + 1;
            if next > b'a' {
                digits.push(ZERO);
            } else {
                digits.pop();
            }
            String::from_utf8(std::iter::once(next).chain(digits).collect()).ok()
        }
    }
}

fn decrement_integer(x: &str) -> Option<String> {
    let bytes = x.as_bytes();
    let head = bytes[0];
    let mut digits = bytes[1..].to_vec();
    let top = DIGITS[DIGITS.len() - 1];
    for i in (0..digits.len()).rev() {
        let d = digit_value(digits[i]).unwrap_or(0);
        if d > 0 {
            digits[i] = DIGITS[d - 1];
            return String::from_utf8(std::iter::once(head).chain(digits).collect()).ok();
        }
        digits[i] = top;
    }
    match head {
        b'a' => Some(format!("Z{}", top as char)),
        b'A' => None,
        _ => {
            let next = head - 1;
            if next < b'Z' {
                digits.push(top);
            } else {
                digits.pop();
            }
            String::from_utf8(std::iter::once(next).chain(digits).collect()).ok()
        }
    }
}

/// A key strictly between `a` and `b` (`None` meaning "no bound"). `None` when the bounds are
/// not keys or not in order.
pub fn key_between(a: Option<&str>, b: Option<&str>) -> Option<String> {
    let smallest = format!("A{}", "0".repeat(26));
    let a_parts = a.map(split);
    let b_parts = b.map(split);
    if matches!(a_parts, Some(None)) || matches!(b_parts, Some(None)) {
        return None;
    }
    match (a, b) {
        (Some(a), Some(b)) if a >= b => None,
        (None, None) => Some("a0".to_owned()),
        (None, Some(b)) => {
            let (integer, fraction) = split(b)?;
            if integer == smallest {
                let f = midpoint(b"", Some(fraction.as_bytes()));
                return Some(format!("{integer}{}", String::from_utf8(f).ok()?));
            }
            if integer.len() < b.len() {
                return Some(integer.to_owned());
            }
            decrement_integer(integer)
        }
        (Some(a), None) => {
            let (integer, fraction) = split(a)?;
            match increment_integer(integer) {
                Some(next) => Some(next),
                None => {
                    let f = midpoint(fraction.as_bytes(), None);
                    Some(format!("{integer}{}", String::from_utf8(f).ok()?))
                }
            }
        }
        (Some(a), Some(b)) => {
            let (ia, fa) = split(a)?;
            let (ib, fb) = split(b)?;
            if ia == ib {
                let f = midpoint(fa.as_bytes(), Some(fb.as_bytes()));
                return Some(format!("{ia}{}", String::from_utf8(f).ok()?));
            }
            let next = increment_integer(ia)?;
            if next.as_str() < b {
                return Some(next);
            }
            let f = midpoint(fa.as_bytes(), None);
            Some(format!("{ia}{}", String::from_utf8(f).ok()?))
        }
    }
}

/// `n` keys in order strictly between `a` and `b` (`None` meaning "no bound"), spread so
/// that each is about `log62(n)` characters longer than the bounds (David Greenspan's
/// `generateNKeysBetween`). `None` when the bounds are not keys or not in order.
pub fn keys_between(a: Option<&str>, b: Option<&str>, n: usize) -> Option<Vec<String>> {
    match (n, a, b) {
        (0, _, _) => Some(Vec::new()),
        (1, _, _) => key_between(a, b).map(|key| vec![key]),
        // Open above: each after the last (the integer part grows logarithmically).
        (_, _, None) => {
            let mut keys: Vec<String> = Vec::with_capacity(n);
            for _ in 0..n {
                keys.push(key_between(keys.last().map(String::as_str).or(a), None)?);
            }
            Some(keys)
        }
        // Open below: each before the first, then in order.
        (_, None, _) => {
            let mut keys: Vec<String> = Vec::with_capacity(n);
            for _ in 0..n {
                keys.push(key_between(None, keys.last().map(String::as_str).or(b))?);
            }
            keys.reverse();
            Some(keys)
        }
        // Bounded: the middle key, then each half.
        _ => {
            let half = n / 2;
            let middle = key_between(a, b)?;
            let mut keys = keys_between(a, Some(&middle), half)?;
            keys.push(middle.clone());
            keys.extend(keys_between(Some(&middle), b, n - half - 1)?);
            Some(keys)
        }
    }
}

/// Body of `POST /api/v1/tasks/{id}/move`.
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MoveTaskRequest {
    /// The task that ends up just before this one. `null` with `after_id` absent: the task
    /// goes first.
    #[schema(value_type = Option<String>, format = Uuid, nullable, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub before_id: Option<Option<Uuid>>,
    /// The task that ends up just after this one. Both absent (or `null`): the task goes last.
    #[schema(value_type = Option<String>, format = Uuid, nullable, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub after_id: Option<Option<Uuid>>,
    /// A new status, written in the same change (absent or `null`: unchanged); the task goes
    /// to that category's default state unless it is in the category already.
    #[schema(nullable)]
    pub status: Option<Status>,
    /// A new state of the task's project (a board column), written in the same change; its
    /// category becomes the status (absent or `null`: unchanged).
    #[schema(value_type = Option<String>, format = Uuid, nullable, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub state_id: Option<Option<Uuid>>,
}

/// A neighbour field: absent, `null`, or a task id.
pub enum Neighbour {
    Absent,
    Null,
    Task(Uuid),
}

/// A move as asked: the task goes after `before` and before `after` (see the body's fields),
/// with `state_id` or `status` if given.
pub struct MoveRequest {
    pub before: Neighbour,
    pub after: Neighbour,
    pub status: Option<Status>,
    pub state_id: Option<Uuid>,
}

fn parse_body(body: Map<String, Value>) -> Result<MoveRequest, ApiError> {
    let mut before = Neighbour::Absent;
    let mut after = Neighbour::Absent;
    let mut status = None;
    let mut state_id = None;
    let mut errors = Vec::new();
    for (key, value) in body {
        match (key.as_str(), value) {
            (field @ ("before_id" | "after_id"), value) => {
                let parsed = match value {
                    Value::Null => Neighbour::Null,
                    Value::String(s) => match s.parse() {
                        Ok(id) => Neighbour::Task(id),
                        Err(_) => {
                            errors.push(FieldError::new(
                                field,
                                "invalid_type",
                                "must be a task id or null",
                            ));
                            continue;
                        }
                    },
                    _ => {
                        errors.push(FieldError::new(
                            field,
                            "invalid_type",
                            "must be a task id or null",
                        ));
                        continue;
                    }
                };
                if field == "before_id" {
                    before = parsed;
                } else {
                    after = parsed;
                }
            }
            ("status", Value::Null) => {}
            ("status", Value::String(s)) => match Status::parse(&s) {
                Some(s) => status = Some(s),
                None => errors.push(FieldError::new(
                    "status",
                    "invalid_value",
                    "must be todo, in_progress, done or canceled",
                )),
            },
            ("status", _) => errors.push(FieldError::new(
                "status",
                "invalid_type",
                "must be a string",
            )),
            ("state_id", Value::Null) => {}
            ("state_id", Value::String(s)) if s.parse::<Uuid>().is_ok() => {
                state_id = s.parse().ok();
            }
            ("state_id", _) => errors.push(FieldError::new(
                "state_id",
                "invalid_type",
                "must be a state id or null",
            )),
            (other, _) => errors.push(FieldError::new(
                other,
                "unknown_field",
                "is not a known field",
            )),
        }
    }
    if errors.is_empty() {
        Ok(MoveRequest {
            before,
            after,
            status,
            state_id,
        })
    } else {
        Err(ApiError::validation(errors))
    }
}

/// A neighbour in the same project: its position and, with `beyond`, the closest position on
/// that side of it; or the field error that says why not.
async fn neighbour(
    tx: &Tx,
    field: &str,
    (project_id, moved): (Uuid, Uuid),
    id: Uuid,
    beyond: Option<Beyond>,
    errors: &mut Vec<FieldError>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    if id == moved {
        errors.push(FieldError::new(
            field,
            "invalid_value",
            "must be another task",
        ));
        return Ok((None, None));
    }
    match store::neighbour_in(tx, project_id, moved, id, beyond).await? {
        Some((position, adjacent)) => Ok((Some(position), adjacent)),
        None => {
            errors.push(FieldError::new(
                field,
                "not_found",
                "no such task in this project",
            ));
            Ok((None, None))
        }
    }
}

fn out_of_order() -> ApiError {
    ApiError::validation(vec![FieldError::new(
        "before_id",
        "invalid_value",
        "must come before after_id in the project's order",
    )])
}

/// The key for the task `moved` at the place `request` names, from the committed keys of its
/// project (whose row the caller has locked). `errors`: the request's other field errors,
/// reported with the neighbours' in one problem.
async fn key_for(
    tx: &Tx,
    project_id: Uuid,
    moved: Uuid,
    request: &MoveRequest,
    mut errors: Vec<FieldError>,
) -> Result<String, ApiError> {
    let task = (project_id, moved);
    // The neighbour that decides the place is read with the closest key beyond it in one
    // statement (this runs under the project's lock): `before_id`'s next key, or `after_id`'s
    // previous one when only `after_id` is named. With both named the key goes just after
    // `before_id`, below the next key after it, never merely below `after_id`: the two need
    // not be adjacent (a board column hides other statuses, and another move may have landed
    // between them), and two moves between the same neighbours must not compute the same key.
    let (lower, next) = match request.before {
        Neighbour::Task(n) => {
            neighbour(tx, "before_id", task, n, Some(Beyond::Above), &mut errors).await?
        }
        _ => (None, None),
    };
    let beyond_after = match request.before {
        Neighbour::Task(_) => None,
        _ => Some(Beyond::Below),
    };
    let (upper, previous) = match request.after {
        Neighbour::Task(n) => neighbour(tx, "after_id", task, n, beyond_after, &mut errors).await?,
        _ => (None, None),
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (lower, upper) = match (&request.before, &request.after) {
        (Neighbour::Task(_), Neighbour::Task(_)) => {
            if lower >= upper {
                return Err(out_of_order());
            }
            (lower, next)
        }
        (Neighbour::Task(_), _) => (lower, next),
        (_, Neighbour::Task(_)) => (previous, upper),
        (Neighbour::Null, Neighbour::Absent) => {
            let first = store::end_position(tx, project_id, moved, Beyond::Above).await?;
            (None, first)
        }
        _ => {
            let last = store::end_position(tx, project_id, moved, Beyond::Below).await?;
            (last, None)
        }
    };
    key_between(lower.as_deref(), upper.as_deref()).ok_or_else(out_of_order)
}

/// Keys longer than this get new ones when a gap runs out of room. A key between two keys of
/// at most this length is at most one character longer, and so are the keys a renumbered run
/// gets (plus about `log62` of its length): far below [`MAX_KEY_LENGTH`].
const RENUMBER_LONGER_THAN: usize = 16;

/// Renumbers the project's manual order where it is crowded: each run of consecutive tasks with
/// keys longer than [`RENUMBER_LONGER_THAN`] gets keys spread between the short keys around it.
/// Every other task keeps its key, so this costs what the crowded runs hold (the two tasks
/// moved back and forth in the worst case), not the project's size.
async fn renumber(tx: &Tx, access: &ProjectAccess) -> Result<(), ApiError> {
    let mut keys = Vec::new();
    for run in store::long_position_runs(tx, access, RENUMBER_LONGER_THAN).await? {
        let fresh = keys_between(run.after.as_deref(), run.before.as_deref(), run.tasks.len())
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("position keys out of order: {run:?}"))
            })?;
        keys.extend(run.tasks.into_iter().zip(fresh));
    }
    store::renumber_positions(tx, access, keys).await?;
    Ok(())
}

/// Move a task in its project's manual order (editor or above), optionally changing its
/// state (a board column) or status in the same write. `If-Match` honoured.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/move", tag = "tasks",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = MoveTaskRequest,
    responses((status = 200, body = Task, headers(("ETag" = String))),
        (status = 401, body = P, content_type = "application/problem+json"),
        (status = 403, body = P, content_type = "application/problem+json"),
        (status = 404, body = P, content_type = "application/problem+json"),
        (status = 409, body = P, content_type = "application/problem+json"),
        (status = 412, body = P, content_type = "application/problem+json"),
        (status = 422, body = P, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn move_task(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(body) = body else {
        unreachable!("the JSON extractor takes only objects")
    };
    let tx = db.begin().await?;
    // Not a member: 404 before anything is said about the body.
    let (task, _) = guard::enter_task(&tx, &principal, id, Action::EditTasks).await?;
    let request = parse_body(body)?;
    let moved = apply(&tx, &principal, &task, request, &if_match).await?;
    tx.commit().await?;
    Ok(task_response(StatusCode::OK, &moved))
}

/// The write of a move, in the caller's transaction: what `POST /tasks/{id}/move` does once
/// the caller entered the task (`entered`, read without a lock) and the body is read.
pub async fn apply(
    tx: &Tx,
    principal: &Principal,
    entered: &Task,
    request: MoveRequest,
    if_match: &IfMatch,
) -> Result<Task, ApiError> {
    let id = entered.id;
    // One move at a time per project: the project row first, then the task's.
    let locked_project = entered.project_id;
    let (task, access) =
        guard::enter_task_in_locked_project(tx, principal, id, locked_project, Action::EditTasks)
            .await?;
    if task.project_id != locked_project {
        return Err(ApiError::conflict(
            crate::error::ErrorCode::Conflict,
            "the task moved to another project meanwhile",
        ));
    }
    if_match.check(task.version)?;
    let mut errors = Vec::new();
    let (status, state_id) = super::handlers::resolve_state(
        tx,
        task.project_id,
        request.status,
        request.state_id,
        task.status,
        &mut errors,
    )
    .await?;
    let mut position = key_for(tx, task.project_id, id, &request, errors).await?;
    if position.len() > MAX_KEY_LENGTH {
        // The gap ran out of room: renumber the project (under its lock, in this transaction),
        // after which every gap has room for a short key.
        renumber(tx, &access).await?;
        position = key_for(tx, task.project_id, id, &request, Vec::new()).await?;
    }
    Ok(store::set_position(tx, &access, &task, &position, status, state_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_ordered_and_always_leave_room() {
        assert_eq!(key_between(None, None).as_deref(), Some("a0"));
        assert_eq!(key_between(Some("a0"), None).as_deref(), Some("a1"));
        assert_eq!(key_between(Some("az"), None).as_deref(), Some("b00"));
        assert_eq!(key_between(None, Some("a0")).as_deref(), Some("Zz"));
        assert_eq!(key_between(Some("a0"), Some("a1")).as_deref(), Some("a0V"));
        assert_eq!(key_between(Some("a1"), Some("a0")), None);
        assert_eq!(key_between(Some("a0"), Some("a0")), None);
        assert_eq!(
            key_between(Some("a00"), None),
            None,
            "a0 is two characters: a00 has a trailing 0"
        );
        assert_eq!(key_between(Some("not a key"), None), None);
    }

    #[test]
    fn many_keys_between_two_are_ordered_and_short() {
        for (a, b) in [
            (Some("a5"), Some("a6")),
            (Some("a5"), None),
            (None, Some("a5")),
            (None, None),
            (Some("a5V"), Some("a5VV")),
        ] {
            for n in [0, 1, 2, 3, 10, 61, 62, 63, 1000, 100_000] {
                let keys = keys_between(a, b, n).unwrap();
                assert_eq!(keys.len(), n);
                let mut bounds = vec![a.map(str::to_owned)];
                bounds.extend(keys.iter().cloned().map(Some));
                bounds.push(b.map(str::to_owned));
                for pair in bounds.windows(2) {
                    if let [Some(low), Some(high)] = pair {
                        assert!(low < high, "{a:?}..{b:?} n={n}: {low} !< {high}");
                    }
                }
                assert!(keys.iter().all(|k| split(k).is_some()), "valid keys");
                let longest = keys.iter().map(String::len).max().unwrap_or(0);
                assert!(longest <= 12, "{a:?}..{b:?} n={n}: {longest}");
            }
        }
        assert_eq!(keys_between(Some("a6"), Some("a5"), 3), None);
    }

    #[test]
    fn repeated_insertion_between_two_keys_keeps_order_and_stays_short() {
        // Always into the same gap: keys grow by about one character per six moves.
        let low = "a0".to_owned();
        let mut high = "a1".to_owned();
        for _ in 0..600 {
            let mid = key_between(Some(&low), Some(&high)).unwrap();
            assert!(low < mid && mid < high, "{low} < {mid} < {high}");
            high = mid;
        }
        assert!(high.len() < 120, "{}", high.len());
        // Always first and always last: keys grow logarithmically.
        let mut first = "a0".to_owned();
        let mut last = "a0".to_owned();
        for _ in 0..10_000 {
            let f = key_between(None, Some(&first)).unwrap();
            let l = key_between(Some(&last), None).unwrap();
            assert!(f < first && l > last);
            first = f;
            last = l;
        }
        assert!(first.len() <= 4 && last.len() <= 4, "{first} {last}");
    }
}
