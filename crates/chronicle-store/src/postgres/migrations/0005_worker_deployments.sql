-- Worker deployments (worker versioning): one row per deployment, with
-- its versions and routing.
CREATE TABLE worker_deployments (
    namespace TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (namespace, name)
);
