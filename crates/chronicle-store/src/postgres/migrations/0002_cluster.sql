-- Clusters (src/cluster.rs): the nodes sharing this database, and one
-- lease row per shard whose epoch fences every write of the shard's
-- executions. Times are Unix nanoseconds of the database's clock.

CREATE TABLE cluster_nodes (
    node_id TEXT COLLATE "C" PRIMARY KEY,
    rpc_address TEXT NOT NULL,
    cluster_address TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- Shards are fixed forever (cluster::SHARDS): every row exists from here on.
CREATE TABLE shards (
    shard_id INTEGER PRIMARY KEY,
    -- NULL: free.
    owner TEXT COLLATE "C",
    -- Bumped by every acquisition; a write carries the epoch it was made under.
    epoch BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    acquired_at BIGINT NOT NULL DEFAULT 0
);
INSERT INTO shards (shard_id) SELECT generate_series(0, 255);

-- Each execution's and task's shard (cluster::shard_of), written with the
-- row; rows from before this migration are filled in at connect, found
-- through indexes that are empty once that is done (so every later start
-- checks in no time).
ALTER TABLE executions ADD COLUMN shard INTEGER;
ALTER TABLE tasks ADD COLUMN shard INTEGER;
CREATE INDEX executions_without_shard ON executions (namespace, workflow_id) WHERE shard IS NULL;
CREATE INDEX tasks_without_shard ON tasks (namespace, workflow_id) WHERE shard IS NULL;
-- A node's timers, by shard. (Its transfer queue, read once when it takes
-- a shard and small, goes through tasks_transfer with the shard filtered.)
CREATE INDEX tasks_by_shard_time ON tasks (shard, fire_at, id) WHERE fire_at IS NOT NULL;
