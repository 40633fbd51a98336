//! Keyset pagination: `limit` and an opaque, signed cursor bound to the list it came from.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::KeyMaterial;
use crate::error::{ApiError, ErrorCode};

type HmacSha256 = Hmac<Sha256>;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// The list a cursor belongs to. A cursor made for one scope never decodes for another; the
/// text the signature covers is written here only (the same text as before this type, so
/// cursors handed out earlier stay valid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorScope {
    /// `GET /projects` of one caller.
    Projects { user: uuid::Uuid },
    /// `GET /projects/{id}/members`.
    Members { project: uuid::Uuid },
    /// `GET /admin/users`.
    Users,
    /// `GET /projects/{id}/tasks` with these filters and sort (`tasks::list` writes them).
    ProjectTasks {
        project: uuid::Uuid,
        filters: String,
    },
    /// `GET /tasks` of one caller with these filters and sort.
    MyTasks { user: uuid::Uuid, filters: String },
    /// `GET /tasks/{id}/activity`.
    TaskActivity { task: uuid::Uuid },
    /// `GET /projects/{id}/activity`.
    ProjectActivity { project: uuid::Uuid },
    /// `GET /tasks/{id}/comments`.
    Comments { task: uuid::Uuid },
    /// `GET /tasks/{id}/attachments`.
    Attachments { task: uuid::Uuid },
    /// `GET /me/notifications` of one caller (`unread` or all).
    Notifications { user: uuid::Uuid, unread: bool },
    /// `GET /projects/{id}/webhooks`.
    Webhooks { project: uuid::Uuid },
    /// `GET /webhooks/{id}/deliveries`.
    WebhookDeliveries { webhook: uuid::Uuid },
    /// `GET /projects/{id}/invitations`.
    Invitations { project: uuid::Uuid },
    /// `GET /me/security-events` of one caller.
    SecurityEvents { user: uuid::Uuid },
    /// `GET /projects/{id}/time` with these filters.
    ProjectTime {
        project: uuid::Uuid,
        filters: String,
    },
    /// `GET /me/time` of one caller with these filters.
    MyTime { user: uuid::Uuid, filters: String },
}

impl CursorScope {
    fn key(&self) -> String {
        match self {
            CursorScope::Projects { user } => format!("projects:{user}"),
            CursorScope::Members { project } => format!("members:{project}"),
            CursorScope::Users => "admin/users".to_owned(),
            CursorScope::ProjectTasks { project, filters } => {
                format!("project-tasks:{project}|{filters}")
            }
            CursorScope::MyTasks { user, filters } => format!("tasks:{user}|{filters}"),
            CursorScope::TaskActivity { task } => format!("task-activity:{task}"),
            CursorScope::ProjectActivity { project } => format!("project-activity:{project}"),
            CursorScope::Comments { task } => format!("comments:{task}"),
            CursorScope::Attachments { task } => format!("attachments:{task}"),
            CursorScope::Notifications { user, unread } => {
                format!("notifications:{user}|{unread}")
            }
            CursorScope::Webhooks { project } => format!("webhooks:{project}"),
            CursorScope::WebhookDeliveries { webhook } => format!("deliveries:{webhook}"),
            CursorScope::Invitations { project } => format!("invitations:{project}"),
            CursorScope::SecurityEvents { user } => format!("security-events:{user}"),
            CursorScope::ProjectTime { project, filters } => {
                format!("project-time:{project}|{filters}")
            }
            CursorScope::MyTime { user, filters } => format!("my-time:{user}|{filters}"),
        }
    }
}

/// Signs cursors so that a tampered one, or one taken from another list, is refused.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn derive(secret: &KeyMaterial) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret.bytes()).expect("any key length");
        mac.update(b"docket pagination cursor v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn tag(&self, scope: &str, payload: &str) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes()[..16].to_vec()
    }

    /// `scope` names the list: endpoint, parent id, filters and sort.
    pub fn encode<T: Serialize>(&self, scope: &CursorScope, position: &T) -> String {
        let scope = &scope.key();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).expect("serializable"));
        let tag = URL_SAFE_NO_PAD.encode(self.tag(scope, &payload));
        format!("{payload}.{tag}")
    }

    pub fn decode<T: DeserializeOwned>(
        &self,
        scope: &CursorScope,
        cursor: &str,
    ) -> Result<T, ApiError> {
        let scope = &scope.key();
        let invalid = || {
            ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "cursor is not valid for this list (it may be tampered with or from another list)",
            )
        };
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let expected = self.tag(scope, payload);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            tag.as_slice(),
            expected.as_slice(),
        )) {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

/// `limit` and `cursor` of a list request, as every list documents them.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page of the same list.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Where the previous page of this list ended (`None` on the first page); a cursor from
    /// another list, or a tampered one, is a 400.
    pub fn position<T: DeserializeOwned>(
        &self,
        key: &CursorKey,
        scope: &CursorScope,
    ) -> Result<Option<T>, ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| key.decode(scope, cursor))
            .transpose()
    }

    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.as_deref() {
            None => Ok(DEFAULT_LIMIT),
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                )),
            },
        }
    }
}

/// A page of a list. `items` refers to the item's own schema (`Page_Task.items` is a `$ref` to
/// `Task`), so a generated client has one `Task` type, not a copy per page. The schema is
/// written by hand because utoipa 5's derive inlines a generic parameter's schema.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

// `ComposeSchema` is how utoipa's macros ask a generic type for its schema (`PartialSchema`
// follows from it); the generic arguments' schemas are ignored in favour of a `$ref`.
impl<T: utoipa::ToSchema> utoipa::__dev::ComposeSchema for Page<T> {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
        use utoipa::openapi::Ref;
        ObjectBuilder::new()
            .description(Some(format!("A page of {} items", T::name())))
            .property(
                "items",
                ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
            )
            .required("items")
            .property(
                "next_cursor",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .min_length(Some(1))
                    .description(Some(
                        "Pass as `cursor` for the next page; null on the last page",
                    )),
            )
            .required("next_cursor")
            .into()
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for Page<T> {
    /// utoipa's macros append the generic arguments themselves (`Page_Task`).
    fn name() -> std::borrow::Cow<'static, str> {
        "Page".into()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says another page exists.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_for: impl FnOnce(&T) -> String) -> Self {
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if has_more {
            rows.last().map(cursor_for)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_bound_to_their_scope_and_signed() {
        let key = CursorKey::derive(&KeyMaterial::new("k".repeat(32)).unwrap());
        let p1 = CursorScope::Members {
            project: uuid::Uuid::from_u128(1),
        };
        let p2 = CursorScope::Members {
            project: uuid::Uuid::from_u128(2),
        };
        let cursor = key.encode(&p1, &(5, "abc"));
        let back: (i32, String) = key.decode(&p1, &cursor).unwrap();
        assert_eq!(back, (5, "abc".to_owned()));
        assert!(key.decode::<(i32, String)>(&p2, &cursor).is_err());
        assert!(key
            .decode::<(i32, String)>(&CursorScope::Users, &cursor)
            .is_err());
        let mut tampered = cursor.clone();
        tampered.replace_range(0..1, if cursor.starts_with('W') { "X" } else { "W" });
        assert!(key.decode::<(i32, String)>(&p1, &tampered).is_err());
        assert!(key.decode::<(i32, String)>(&p1, "garbage").is_err());
        // The signed text is what it was before scopes were typed: old cursors stay valid.
        assert_eq!(p1.key(), "members:00000000-0000-0000-0000-000000000001");
        assert_eq!(CursorScope::Users.key(), "admin/users");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn key() -> CursorKey {
            CursorKey::derive(&KeyMaterial::new("k".repeat(32)).unwrap())
        }

        fn scope() -> impl Strategy<Value = CursorScope> {
            prop_oneof![
                Just(CursorScope::Users),
                any::<u128>().prop_map(|n| CursorScope::Members {
                    project: uuid::Uuid::from_u128(n)
                }),
                (any::<u128>(), ".{0,40}").prop_map(|(n, filters)| CursorScope::ProjectTasks {
                    project: uuid::Uuid::from_u128(n),
                    filters,
                }),
            ]
        }

        /// A position as the lists use them: a time, a key and an id.
        type Position = (String, Option<String>, uuid::Uuid);

        fn position() -> impl Strategy<Value = Position> {
            (".{0,30}", proptest::option::of(".{0,20}"), any::<u128>())
                .prop_map(|(at, key, id)| (at, key, uuid::Uuid::from_u128(id)))
        }

        proptest! {
            /// A stranger's cursor: anything at all, or shaped like ours (`payload.tag` in
            /// base64url), is refused with a 400 and never panics.
            #[test]
            fn a_strangers_cursor_is_refused(
                cursor in prop_oneof![
                    ".{0,300}",
                    "[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,40}",
                    "[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{22}",
                ],
                scope in scope(),
            ) {
                let error = key().decode::<Position>(&scope, &cursor).unwrap_err();
                prop_assert_eq!(error.code, ErrorCode::InvalidQuery);
            }

            /// Ours decodes to what was encoded, only for its own list, and any one character
            /// changed makes it refused.
            #[test]
            fn a_cursor_round_trips_and_resists_change(
                position in position(),
                scope in scope(),
                other in scope(),
                at in any::<prop::sample::Index>(),
                replacement in "[A-Za-z0-9_.=+/-]",
            ) {
                let key = key();
                let cursor = key.encode(&scope, &position);
                prop_assert_eq!(key.decode::<Position>(&scope, &cursor).unwrap(), position);
                if other != scope {
                    prop_assert!(key.decode::<Position>(&other, &cursor).is_err());
                }
                let at = at.index(cursor.len());
                let mut changed = cursor.clone();
                changed.replace_range(at..=at, &replacement);
                if changed != cursor {
                    prop_assert!(key.decode::<Position>(&scope, &changed).is_err());
                }
            }
        }

        /// A cursor as long as a request line can be is refused in time linear in it: one pass
        /// to sign the payload and one to decode the tag, whatever its shape.
        #[test]
        fn a_huge_cursor_is_refused_in_linear_time() {
            let key = key();
            let payload = "A".repeat(300 * 1024);
            for cursor in [
                format!("{payload}.{}", "A".repeat(22)),
                format!("{payload}.{payload}"),
                ".".repeat(300 * 1024),
                "é".repeat(150 * 1024),
            ] {
                let start = std::time::Instant::now();
                assert!(key
                    .decode::<Position>(&CursorScope::Users, &cursor)
                    .is_err());
                let per_byte = start.elapsed().as_nanos() as f64 / cursor.len() as f64;
                assert!(per_byte < 4_000.0, "{per_byte} ns a byte");
            }
        }
    }
}
