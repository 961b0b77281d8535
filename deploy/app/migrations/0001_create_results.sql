-- One row per submitted URL; the worker fills in the counts.
CREATE TABLE results (
    id          bigserial PRIMARY KEY,
    url         text NOT NULL,
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'started', 'finished', 'failed')),
    error       text,
    word_counts jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
