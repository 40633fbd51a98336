-- Per-principal request counts per one-minute window, summed over every instance. Instances
-- count locally and add their counts here in batches (twice a second), so the limit holds
-- across instances without a database write per request.
CREATE TABLE rate_limit_windows (
    principal_id  uuid NOT NULL,
    window_start  bigint NOT NULL,
    count         integer NOT NULL,
    PRIMARY KEY (principal_id, window_start)
);
