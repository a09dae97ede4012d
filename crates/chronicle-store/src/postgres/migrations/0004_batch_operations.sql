-- Batch operations (StartBatchOperation): one row per job, kept after it ends.
CREATE TABLE batch_operations (
    namespace TEXT COLLATE "C" NOT NULL,
    job_id TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (namespace, job_id)
);
