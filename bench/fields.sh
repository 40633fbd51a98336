#!/usr/bin/env bash
# Custom fields at 100,000 tasks (issue 24): the two storages side by side in one database
# seeded by bench/workflow-seed.sql, a project of 100,000 tasks with 10 fields (a select of
# five options, a number, a date, a checkbox, a user, two texts, a multi_select, a url, a
# second number), each task holding values for most of them.
#   A — what Docket does: values in `tasks.fields` (JSONB), equality filters on the heap row
#       while the sort's index is walked (or through the GIN index `tasks_fields` when the
#       planner expects few matches), and sorts by a number or date field through the sort
#       keys' table `task_field_keys` (one row per task and keyed field, nulls included);
#   A0 — the first cut, kept for the record: the number sort as an expression over the JSONB;
#   B — a typed values table (one row per task and field; per-kind columns, btree indexes
#       (field_id, <value>, task_id)), the filter and the sort as a join.
# Each query is the list's statement shape (50 rows + 1, keyset on (sort, id)), at page 1 and
# at a page deep in the list (the boundary ~90% through), run RUNS times by pgbench; prints
# p50/p99 in ms and the ratio of each p99 to the same list without the field filter/sort.
#
#   bench/fields.sh [DOCKET_BIN (target/debug/docket)] [RUNS (300)]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/debug/docket}"); RUNS=${2:-300}; TASKS=${TASKS:-100000}
source bench/pg.sh
WORK=$(mktemp -d)
trap 'stop_pg; rm -rf "$WORK"' EXIT
export PATH="$PG_BIN:$PATH"
DB="postgresql://docket@localhost/fields?host=$PG_DIR"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq
psql -h "$PG_DIR" -U docket -d postgres -qc "CREATE DATABASE fields"
DATABASE_URL=$DB "$BIN" migrate >/dev/null
psql "$DB" -q -v tasks="$TASKS" -f bench/workflow-seed.sql >/dev/null
psql "$DB" -q -v ON_ERROR_STOP=1 -f bench/fields-seed.sql >/dev/null
psql "$DB" -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
-- B: the typed table, filled from the same values.
CREATE TABLE task_field_values (task_id uuid NOT NULL, field_id uuid NOT NULL, project_id uuid NOT NULL,
  num numeric, txt text, dt date, bool boolean, opt uuid);
INSERT INTO task_field_values
SELECT t.id, c.id, t.project_id,
  CASE WHEN c.kind = 'number' THEN (e.value #>> '{}')::numeric END,
  CASE WHEN c.kind IN ('text', 'url', 'user') THEN e.value #>> '{}' END,
  CASE WHEN c.kind = 'date' THEN (e.value #>> '{}')::date END,
  CASE WHEN c.kind = 'checkbox' THEN (e.value #>> '{}')::boolean END,
  CASE WHEN c.kind = 'select' THEN (e.value #>> '{}')::uuid END
FROM tasks t CROSS JOIN LATERAL jsonb_each(t.fields) e JOIN custom_fields c ON c.id::text = e.key
WHERE c.kind <> 'multi_select';
CREATE INDEX ON task_field_values (field_id, opt, task_id);
CREATE INDEX ON task_field_values (field_id, num, task_id);
CREATE UNIQUE INDEX ON task_field_values (task_id, field_id);
VACUUM ANALYZE;
SQL

q() { psql "$DB" -qAtc "$1"; }
PROJECT=$(q "SELECT id FROM projects WHERE name = 'Board'")
SIZE=$(q "SELECT id FROM custom_fields WHERE name = 'Size'")
POINTS=$(q "SELECT id FROM custom_fields WHERE name = 'Points'")
OPTION=$(q "SELECT options -> 2 ->> 'id' FROM custom_fields WHERE name = 'Size'")
OPTS=$(q "SELECT string_agg(quote_literal(o ->> 'id'), ',') FROM custom_fields, jsonb_array_elements(options) o WHERE name = 'Size'")
COLS="t.id, t.project_id, t.number, t.title, t.status, t.priority, t.labels, t.fields, t.version, t.created_at"
# Deep boundaries: the row ~90% through each order.
DEEP_CREATED=$(q "SELECT created_at || '|' || id FROM tasks WHERE project_id = '$PROJECT' ORDER BY created_at, id OFFSET $((TASKS * 9 / 10)) LIMIT 1")
DEEP_FILTERED=$(q "SELECT created_at || '|' || id FROM tasks WHERE project_id = '$PROJECT' AND fields @> '{\"$SIZE\": \"$OPTION\"}' ORDER BY created_at, id OFFSET $((TASKS * 9 / 50)) LIMIT 1")
DEEP_POINTS=$(q "SELECT coalesce((fields ->> '$POINTS')::numeric, 0) || '|' || id FROM tasks WHERE project_id = '$PROJECT' AND fields ? '$POINTS' ORDER BY (fields -> '$POINTS') IS NULL, coalesce((fields ->> '$POINTS')::numeric, 0), id OFFSET $((TASKS * 8 / 10)) LIMIT 1")
# (not `id`: bench/pg.sh runs `id -u`)
at() { echo "${1%%|*}"; }; row_id() { echo "${1##*|}"; }
FILTER_A="t.fields @> '{\"$SIZE\": \"$OPTION\"}'"
FILTER_B="EXISTS (SELECT 1 FROM task_field_values v WHERE v.task_id = t.id AND v.field_id = '$SIZE' AND v.opt = '$OPTION')"
SORT_A="(t.fields -> '$POINTS') IS NULL, coalesce((t.fields ->> '$POINTS')::numeric, 0)"
declare -A QUERIES=(
  [base_page1]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' ORDER BY t.created_at, t.id LIMIT 51"
  [base_deep]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' AND (t.created_at, t.id) > ('$(at "$DEEP_CREATED")', '$(row_id "$DEEP_CREATED")') ORDER BY t.created_at, t.id LIMIT 51"
  [A_select_page1]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' AND $FILTER_A ORDER BY t.created_at, t.id LIMIT 51"
  [A_select_deep]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' AND $FILTER_A AND (t.created_at, t.id) > ('$(at "$DEEP_FILTERED")', '$(row_id "$DEEP_FILTERED")') ORDER BY t.created_at, t.id LIMIT 51"
  [B_select_page1]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' AND $FILTER_B ORDER BY t.created_at, t.id LIMIT 51"
  [B_select_deep]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' AND $FILTER_B AND (t.created_at, t.id) > ('$(at "$DEEP_FILTERED")', '$(row_id "$DEEP_FILTERED")') ORDER BY t.created_at, t.id LIMIT 51"
  [A0_number_page1]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' ORDER BY $SORT_A, t.id LIMIT 51"
  [A0_number_deep]="SELECT $COLS FROM tasks t WHERE t.project_id = '$PROJECT' AND ($SORT_A, t.id) > (false, $(at "$DEEP_POINTS"), '$(row_id "$DEEP_POINTS")') ORDER BY $SORT_A, t.id LIMIT 51"
  [A_number_page1]="SELECT $COLS FROM tasks t JOIN task_field_keys k ON k.task_id = t.id AND k.field_id = '$POINTS' WHERE t.project_id = '$PROJECT' ORDER BY k.missing, k.num, k.task_id LIMIT 51"
  [A_number_deep]="SELECT $COLS FROM tasks t JOIN task_field_keys k ON k.task_id = t.id AND k.field_id = '$POINTS' WHERE t.project_id = '$PROJECT' AND (k.missing, k.num, k.task_id) > (false, $(at "$DEEP_POINTS"), '$(row_id "$DEEP_POINTS")') ORDER BY k.missing, k.num, k.task_id LIMIT 51"
  [B_number_page1]="SELECT $COLS FROM task_field_values v JOIN tasks t ON t.id = v.task_id WHERE v.field_id = '$POINTS' AND t.project_id = '$PROJECT' ORDER BY v.num, v.task_id LIMIT 51"
  [B_number_deep]="SELECT $COLS FROM task_field_values v JOIN tasks t ON t.id = v.task_id WHERE v.field_id = '$POINTS' AND t.project_id = '$PROJECT' AND (v.num, v.task_id) > ($(at "$DEEP_POINTS"), '$(row_id "$DEEP_POINTS")') ORDER BY v.num, v.task_id LIMIT 51"
)
p99() { # query → "p50 p99" in ms
  echo "$1;" >"$WORK/q.sql"
  (cd "$WORK" && pgbench -n -h "$PG_DIR" -U docket -f q.sql -t "$RUNS" -c 1 -l --log-prefix=lat fields >/dev/null 2>&1)
  cat "$WORK"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'
  rm -f "$WORK"/lat.*
}
declare -A P99 P50
printf '%-16s %8s %8s\n' query p50_ms p99_ms
for name in base_page1 base_deep A_select_page1 A_select_deep A_number_page1 A_number_deep A0_number_page1 A0_number_deep B_select_page1 B_select_deep B_number_page1 B_number_deep; do
  read -r p50 p99v <<<"$(p99 "${QUERIES[$name]}")"; P99[$name]=$p99v; P50[$name]=$p50
  printf '%-16s %8s %8s\n' "$name" "$p50" "$p99v"
done
echo "ratios to the same page without the field filter/sort (p50, p99):"
for s in A A0 B; do for k in select number; do [ "$s$k" = A0select ] && continue; for d in page1 deep; do
  printf '  %-16s %6.2f %6.2f\n' "${s}_${k}_${d}" \
    "$(echo "${P50[${s}_${k}_${d}]} / ${P50[base_$d]}" | bc -l)" \
    "$(echo "${P99[${s}_${k}_${d}]} / ${P99[base_$d]}" | bc -l)"
done; done; done
if [ -n "${EXPLAIN:-}" ]; then
  for name in A_select_page1 A_number_deep B_select_deep; do
    echo "== $name"; psql "$DB" -qAtc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${QUERIES[$name]}" | head -20
  done
fi
