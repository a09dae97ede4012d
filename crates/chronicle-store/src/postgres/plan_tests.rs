//! The statements PostgreSQL runs can use the indexes meant for them:
//! with sequential scans priced out, each plan names its index. (With a
//! handful of rows the planner would rightly scan; this checks that the
//! parameter types and collations leave each index usable at all.)

#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test

use super::visibility::{Postgres, bound};
use super::{cluster, migrations, retention, tasks};
use crate::visibility::compile::{self, Compiled, Param};
use crate::visibility::query::{Expr, Field, Op, OrderBy, Query, System, Value};
use chronicle_engine::api::enums::v1::IndexedValueType;
use tokio_postgres::types::ToSql;

use super::test_database;

type Bound = Vec<Box<dyn ToSql + Sync + Send>>;

fn params(params: &[Param]) -> Bound {
    params.iter().map(bound).collect()
}

async fn plan(client: &tokio_postgres::Client, sql: &str, params: Bound) -> String {
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&format!("EXPLAIN {sql}"), &refs).await.unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

fn list(query: Query) -> Compiled {
    compile::list::<Postgres>("default", &query, None, 100).unwrap()
}

fn filter(expr: Expr) -> Query {
    Query { filter: Some(expr), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_can_use_their_indexes() {
    let Some(db) = test_database::TestDatabase::create().await else { return };
    migrations::migrate(&db.url).await.unwrap();
    let client = db.client().await;
    client.batch_execute("SET enable_seqscan = off; SET enable_bitmapscan = off;").await.unwrap();

    let keyword = |name: &str, value: &str| Expr::Compare {
        field: Field::Custom { name: name.into(), ty: IndexedValueType::Keyword },
        op: Op::Eq,
        value: Value::Str(value.into()),
    };
    let type_and_status = Expr::system(System::WorkflowType, Op::Eq, Value::Str("T".into())).and(Expr::system(
        System::ExecutionStatus,
        Op::Eq,
        Value::Int(1),
    ));
    let cases = [
        (list(Query::default()), "visibility_by_start"),
        (list(filter(type_and_status)), "visibility_by_type_status"),
        (list(filter(Expr::system(System::WorkflowId, Op::Eq, Value::Str("w".into())))), "visibility_by_workflow_id"),
        (list(filter(Expr::system(System::TaskQueue, Op::Eq, Value::Str("q".into())))), "visibility_by_task_queue"),
        (list(filter(keyword("CustomKeywordField", "x"))), "visibility_attributes_str"),
        (
            list(filter(Expr::Compare {
                field: Field::Custom { name: "Size".into(), ty: IndexedValueType::Int },
                op: Op::Gt,
                value: Value::Int(3),
            })),
            "visibility_attributes_num",
        ),
        (
            list(filter(Expr::Compare {
                field: Field::Custom { name: "Note".into(), ty: IndexedValueType::Text },
                op: Op::Eq,
                value: Value::Str("hello world".into()),
            })),
            "visibility_attributes_word",
        ),
        (
            list(Query {
                order_by: vec![OrderBy { field: Field::System(System::CloseTime), descending: true }],
                ..Default::default()
            }),
            "visibility_by_close",
        ),
        (
            compile::count::<Postgres>(
                "default",
                &Query { group_by: Some(Field::System(System::ExecutionStatus)), ..Default::default() },
            )
            .unwrap(),
            "visibility_by_status",
        ),
    ];
    for (statement, index) in cases {
        let p = plan(&client, &statement.sql, params(&statement.params)).await;
        assert!(p.contains(index), "{index} for {}:\n{p}", statement.sql);
    }

    let expired: Bound = vec![Box::new("default".to_string()), Box::new(0i64), Box::new(1i32), Box::new(100i64)];
    let p = plan(&client, retention::EXPIRED, expired).await;
    assert!(p.contains("visibility_by_close"), "{p}");
    let queued: Bound = vec![
        Box::new("default".to_string()),
        Box::new("q".to_string()),
        Box::new(false),
        Box::new(0i64),
        Box::new(100i64),
    ];
    let p = plan(&client, tasks::QUEUED, queued).await;
    assert!(p.contains("tasks_by_queue"), "{p}");
    let p =
        plan(&client, tasks::DUE, params(&[Param::Int(0), Param::Int(0), Param::Int(i64::MAX), Param::Int(100)])).await;
    assert!(p.contains("tasks_by_time"), "{p}");
    let p = plan(&client, tasks::TRANSFER, params(&[Param::Int(0), Param::Int(100)])).await;
    assert!(p.contains("tasks_transfer"), "{p}");
    let shards = || -> Box<dyn ToSql + Sync + Send> { Box::new(vec![1i32, 2, 3]) };
    let mut due_in = params(&[Param::Int(0), Param::Int(0), Param::Int(i64::MAX), Param::Int(100)]);
    due_in.push(shards());
    let p = plan(&client, tasks::DUE_IN, due_in).await;
    assert!(p.contains("tasks_by_shard_time"), "{p}");
    let mut transfer_in = params(&[Param::Int(0), Param::Int(100)]);
    transfer_in.push(shards());
    let p = plan(&client, tasks::TRANSFER_IN, transfer_in).await;
    assert!(p.contains("tasks_transfer"), "{p}");
    for table in ["executions", "tasks"] {
        let p = plan(&client, &cluster::unsharded(table), vec![]).await;
        assert!(p.contains(&format!("{table}_without_shard")), "{p}");
    }
}
