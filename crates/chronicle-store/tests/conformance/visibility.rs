//! Visibility queries: every backend must answer them as the reference
//! evaluator (`chronicle_store::visibility::eval`) does, over many runs
//! with attributes of every type (including values of the wrong type, as
//! unregistered upserts leave them), with paging, counts, and literals
//! that try to escape their quotes.

use super::*;
use chronicle_engine::api::common::v1::SearchAttributes;
use chronicle_store::visibility::{Expr, Field, Op, OrderBy, System, Value};
use chronicle_store::{RunCount, RunsPage};
use std::time::Instant;

use IndexedValueType as T;

/// Unix nanoseconds of `at(secs)`.
fn time(secs: i64) -> Value {
    Value::Time(i128::from(1_700_000_000 + secs) * 1_000_000_000)
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn sys(field: System, op: Op, value: Value) -> Expr {
    Expr::system(field, op, value)
}

fn custom(name: &str, ty: IndexedValueType) -> Field {
    Field::Custom { name: name.into(), ty }
}

fn cmp(name: &str, ty: IndexedValueType, op: Op, value: Value) -> Expr {
    Expr::Compare { field: custom(name, ty), op, value }
}

fn is_in(field: Field, values: Vec<Value>) -> Expr {
    Expr::In { field, values }
}

fn between(field: Field, low: Value, high: Value) -> Expr {
    Expr::Between { field, low, high }
}

fn starts(field: Field, prefix: &str) -> Expr {
    Expr::StartsWith { field, prefix: prefix.into() }
}

fn null(field: Field) -> Expr {
    Expr::IsNull { field }
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn or(any: Vec<Expr>) -> Expr {
    Expr::Or(any)
}

fn and(all: Vec<Expr>) -> Expr {
    Expr::And(all)
}

fn json(data: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into_iter().collect(),
        data: data.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// The search attributes of the i-th run: each type, often absent, now
/// and then of another type than registered.
fn attributes(i: usize) -> SearchAttributes {
    let mut a: Vec<(&str, String)> = Vec::new();
    if !i.is_multiple_of(4) {
        a.push(("Color", format!("\"{}\"", ["red", "blue", "green", "Blue"][i % 4])));
    }
    if i.is_multiple_of(17) {
        a.push(("Color", "5".into()));
    }
    match i {
        _ if i.is_multiple_of(23) => a.push(("Size", "\"7\"".into())),
        _ if i.is_multiple_of(11) => a.push(("Size", "2.5".into())),
        _ if !i.is_multiple_of(5) => a.push(("Size", (i % 13).to_string())),
        _ => {}
    }
    if i.is_multiple_of(3) {
        a.push(("Price", format!("{}", i as f64 / 4.0)));
    }
    match i % 6 {
        _ if i.is_multiple_of(29) => a.push(("Vip", "\"true\"".into())),
        0 => a.push(("Vip", "true".into())),
        1 => a.push(("Vip", "false".into())),
        _ => {}
    }
    match i % 4 {
        _ if i.is_multiple_of(19) => a.push(("Due", "12345".into())),
        1 => a.push(("Due", format!("\"2024-0{}-01T00:00:00Z\"", 1 + i % 9))),
        2 => a.push(("Due", "\"not a time\"".into())),
        _ => {}
    }
    match i % 5 {
        _ if i.is_multiple_of(31) => a.push(("Tags", "\"a\"".into())),
        0 => a.push(("Tags", "[]".into())),
        1 => a.push(("Tags", "[\"a\"]".into())),
        2 => a.push(("Tags", "[\"a\",\"b\",null]".into())),
        3 => a.push(("Tags", "[\"c\",\"2024-01-01T00:00:00Z\"]".into())),
        _ => {}
    }
    match i % 3 {
        _ if i.is_multiple_of(7) => a.push(("Note", "[\"list\",\"of\",\"words\"]".into())),
        0 => a.push(("Note", format!("\"Hello big World {i}\""))),
        1 => a.push(("Note", "\"small, WORLD!\"".into())),
        _ => {}
    }
    // Well typed, for ORDER BY (the evaluator's order of mixed types is
    // no order at all).
    if i % 3 != 1 {
        a.push(("Rank", (i % 7).to_string()));
        a.push(("When", format!("\"2024-01-01T00:00:{:02}Z\"", i % 11)));
        a.push(("Flag", (i.is_multiple_of(2)).to_string()));
        a.push(("Labels", "[\"x\"]".into()));
    }
    SearchAttributes { indexed_fields: a.into_iter().map(|(k, v)| (k.to_string(), json(&v))).collect() }
}

/// 120 runs of three types on two queues, in pairs started at the same
/// second (run ids not in start order); a quarter completed, a quarter
/// terminated.
async fn many_runs(store: &DynStore) -> Vec<WorkflowExecutionInfo> {
    const N: usize = 120;
    let mut runs = Vec::new();
    let mut creates = Vec::new();
    for i in 0..N {
        let args = StartArgs {
            namespace: NS.into(),
            workflow_id: format!("wf-{i:03}"),
            run_id: format!("run-{:03}", (i * 37) % N),
            workflow_type: ["Order", "Invoice", "Ship"][i % 3].into(),
            task_queue: ["tq-a", "tq-b"][(i / 3) % 2].into(),
            request_id: format!("req-{i}"),
            search_attributes: Some(attributes(i)),
            ..Default::default()
        };
        let (run, create) = RunDriver::start_with(args, (i / 2) as i64);
        runs.push(run);
        creates.push(create);
    }
    store.commit(creates).await.unwrap();
    // The same ids in another namespace must never show.
    let (_, other) = RunDriver::start_at("other-ns", "wf-000", "run-other", 0);
    commit1(store, other).await.unwrap();
    for (i, run) in runs.iter_mut().enumerate() {
        match i % 4 {
            0 => {
                for w in run.complete_workflow() {
                    commit1(store, w).await.unwrap();
                }
            }
            1 => commit1(store, run.step(RunDriver::terminate_input())).await.unwrap(),
            _ => {}
        }
    }
    let listed = all_runs(store, NS).await;
    assert_eq!(listed.len(), N);
    listed
}

/// Every page of `query` (page size 7), and its count: both must be what
/// the evaluator says of `runs` (listed newest first).
async fn check(store: &DynStore, runs: &[WorkflowExecutionInfo], query: &Query) {
    let mut expected: Vec<&WorkflowExecutionInfo> = runs.iter().filter(|r| query.matches(r)).collect();
    expected.sort_by(|a, b| query.compare(a, b));
    let mut listed = Vec::new();
    let mut from = None;
    loop {
        let RunsPage { runs: page, next } = store.list_runs(NS, query, from, 7).await.unwrap();
        assert!(page.len() <= 7);
        listed.extend(page);
        match next {
            Some(n) => from = Some(n),
            None => break,
        }
        assert!(listed.len() <= runs.len(), "paging never ends: {query:?}");
    }
    assert_eq!(run_ids(&listed), run_ids(&expected.iter().map(|r| (*r).clone()).collect::<Vec<_>>()), "{query:?}");
    let count = store.count_runs(NS, query).await.unwrap();
    assert_eq!(count.count, expected.len() as i64, "count of {query:?}");
    let grouped = Query { group_by: Some(Field::System(System::ExecutionStatus)), ..query.clone() };
    let mut by_status = BTreeMap::<i32, i64>::new();
    for r in &expected {
        *by_status.entry(r.status).or_default() += 1;
    }
    let groups = store.count_runs(NS, &grouped).await.unwrap();
    assert_eq!(groups, RunCount { count: expected.len() as i64, groups: by_status.into_iter().collect() }, "{query:?}");
}

fn filters() -> Vec<Expr> {
    use System::*;
    let running = || Value::Int(WorkflowExecutionStatus::Running as i64);
    let color = || custom("Color", T::Keyword);
    let size = || custom("Size", T::Int);
    let tags = || custom("Tags", T::KeywordList);
    let due = || custom("Due", T::Datetime);
    let note = || custom("Note", T::Text);
    let mut all = vec![
        sys(WorkflowId, Op::Eq, s("wf-010")),
        sys(WorkflowId, Op::Ne, s("wf-010")),
        sys(WorkflowId, Op::Lt, s("wf-050")),
        sys(WorkflowId, Op::Ge, s("wf-100")),
        starts(Field::System(WorkflowId), "wf-01"),
        not(starts(Field::System(WorkflowId), "wf-0")),
        is_in(Field::System(WorkflowId), vec![s("wf-001"), s("wf-002"), s("nope")]),
        not(is_in(Field::System(WorkflowId), vec![s("wf-001"), s("wf-002")])),
        between(Field::System(WorkflowId), s("wf-020"), s("wf-030")),
        not(between(Field::System(WorkflowId), s("wf-020"), s("wf-110"))),
        sys(WorkflowType, Op::Eq, s("Order")),
        sys(WorkflowType, Op::Gt, s("Invoice")),
        sys(RunId, Op::Eq, s("run-037")),
        starts(Field::System(RunId), "run-1"),
        sys(ExecutionStatus, Op::Eq, running()),
        sys(ExecutionStatus, Op::Ne, running()),
        sys(ExecutionStatus, Op::Gt, running()),
        is_in(Field::System(ExecutionStatus), vec![Value::Int(2), Value::Int(5)]),
        sys(StartTime, Op::Gt, time(30)),
        sys(StartTime, Op::Le, time(30)),
        between(Field::System(StartTime), time(10), time(20)),
        sys(CloseTime, Op::Lt, time(1_000)),
        not(sys(CloseTime, Op::Lt, time(1_000))),
        null(Field::System(CloseTime)),
        not(null(Field::System(CloseTime))),
        sys(ExecutionTime, Op::Ge, time(59)),
        sys(ExecutionDuration, Op::Ge, Value::Int(0)),
        not(sys(ExecutionDuration, Op::Lt, Value::Float(0.5))),
        sys(TaskQueue, Op::Eq, s("tq-a")),
        sys(HistoryLength, Op::Gt, Value::Int(2)),
        sys(HistoryLength, Op::Le, Value::Float(2.5)),
        sys(HistorySizeBytes, Op::Gt, Value::Int(0)),
        sys(StateTransitionCount, Op::Ge, Value::Int(2)),
        null(Field::System(ParentWorkflowId)),
        sys(RootWorkflowId, Op::Eq, s("wf-003")),
        sys(RootRunId, Op::Ne, s("run-003")),
        // Keyword, with numbers upserted now and then.
        cmp("Color", T::Keyword, Op::Eq, s("blue")),
        cmp("Color", T::Keyword, Op::Ne, s("blue")),
        not(cmp("Color", T::Keyword, Op::Ne, s("blue"))),
        cmp("Color", T::Keyword, Op::Lt, s("green")),
        is_in(color(), vec![s("red"), s("Blue")]),
        not(is_in(color(), vec![s("red"), s("Blue")])),
        starts(color(), "b"),
        not(starts(color(), "b")),
        starts(color(), ""),
        between(color(), s("blue"), s("red")),
        null(color()),
        // Int, with floats and strings.
        cmp("Size", T::Int, Op::Gt, Value::Int(6)),
        not(cmp("Size", T::Int, Op::Gt, Value::Int(6))),
        cmp("Size", T::Int, Op::Eq, Value::Float(2.5)),
        cmp("Size", T::Int, Op::Le, Value::Float(2.5)),
        cmp("Size", T::Int, Op::Ne, Value::Int(3)),
        is_in(size(), vec![Value::Int(1), Value::Float(2.5), Value::Int(12)]),
        not(is_in(size(), vec![Value::Int(1), Value::Int(12)])),
        between(size(), Value::Int(2), Value::Float(5.5)),
        not(between(size(), Value::Int(2), Value::Int(5))),
        null(size()),
        // Double.
        cmp("Price", T::Double, Op::Ge, Value::Float(10.5)),
        cmp("Price", T::Double, Op::Eq, Value::Int(3)),
        not(cmp("Price", T::Double, Op::Lt, Value::Int(15))),
        // Bool, with a string.
        cmp("Vip", T::Bool, Op::Eq, Value::Bool(true)),
        cmp("Vip", T::Bool, Op::Ne, Value::Bool(true)),
        not(cmp("Vip", T::Bool, Op::Eq, Value::Bool(false))),
        // Datetime, with strings that are no time and numbers.
        cmp("Due", T::Datetime, Op::Gt, Value::Time(1_714_521_600_000_000_000)),
        not(cmp("Due", T::Datetime, Op::Gt, Value::Time(1_714_521_600_000_000_000))),
        cmp("Due", T::Datetime, Op::Ne, Value::Time(1_704_067_200_000_000_000)),
        between(due(), Value::Time(1_704_067_200_000_000_000), Value::Time(1_717_200_000_000_000_000)),
        not(between(due(), Value::Time(1_704_067_200_000_000_000), Value::Time(1_717_200_000_000_000_000))),
        is_in(due(), vec![Value::Time(1_706_745_600_000_000_000)]),
        null(due()),
        // KeywordList: empty lists, a scalar now and then.
        cmp("Tags", T::KeywordList, Op::Eq, s("a")),
        cmp("Tags", T::KeywordList, Op::Ne, s("a")),
        not(cmp("Tags", T::KeywordList, Op::Eq, s("a"))),
        cmp("Tags", T::KeywordList, Op::Gt, s("b")),
        not(cmp("Tags", T::KeywordList, Op::Gt, s("b"))),
        is_in(tags(), vec![s("b"), s("c")]),
        not(is_in(tags(), vec![s("b"), s("c")])),
        starts(tags(), "2024"),
        null(tags()),
        not(null(tags())),
        // Text: words in any case and order; lists are no text.
        cmp("Note", T::Text, Op::Eq, s("world")),
        cmp("Note", T::Text, Op::Eq, s("WORLD, hello!")),
        cmp("Note", T::Text, Op::Ne, s("small")),
        not(cmp("Note", T::Text, Op::Eq, s("big world"))),
        cmp("Note", T::Text, Op::Eq, s("words")),
        null(note()),
        // Attributes nobody set.
        cmp("Nobody", T::Keyword, Op::Eq, s("x")),
        not(cmp("Nobody", T::Keyword, Op::Eq, s("x"))),
        null(custom("Nobody", T::Keyword)),
    ];
    // Three-valued logic across attributes.
    all.extend([
        and(vec![sys(WorkflowType, Op::Eq, s("Order")), sys(ExecutionStatus, Op::Eq, running())]),
        or(vec![cmp("Color", T::Keyword, Op::Eq, s("red")), cmp("Size", T::Int, Op::Gt, Value::Int(5))]),
        not(or(vec![cmp("Color", T::Keyword, Op::Eq, s("red")), cmp("Size", T::Int, Op::Gt, Value::Int(5))])),
        not(and(vec![cmp("Color", T::Keyword, Op::Eq, s("red")), sys(CloseTime, Op::Gt, time(0))])),
        and(vec![
            or(vec![cmp("Tags", T::KeywordList, Op::Eq, s("a")), cmp("Note", T::Text, Op::Eq, s("world"))]),
            not(sys(ExecutionStatus, Op::Eq, running())),
        ]),
        not(and(vec![
            not(or(vec![null(due()), cmp("Vip", T::Bool, Op::Eq, Value::Bool(true))])),
            or(vec![sys(TaskQueue, Op::Eq, s("tq-b")), not(cmp("Price", T::Double, Op::Gt, Value::Int(5)))]),
        ])),
        or((0..40).map(|i| sys(WorkflowId, Op::Eq, s(&format!("wf-{:03}", i * 3)))).collect()),
        and((0..5).map(|i| not(cmp("Size", T::Int, Op::Eq, Value::Int(i)))).collect()),
    ]);
    all
}

pub async fn visibility_queries_agree_with_the_evaluator(store: DynStore) {
    let runs = many_runs(&store).await;
    check(&store, &runs, &Query::default()).await;
    let mut telling = 0;
    let filters = filters();
    for filter in &filters {
        let query = Query { filter: Some(filter.clone()), ..Default::default() };
        check(&store, &runs, &query).await;
        let n = runs.iter().filter(|r| query.matches(r)).count();
        telling += usize::from(n > 0 && n < runs.len());
    }
    // The runs are varied enough that nearly every filter tells them apart.
    assert!(telling * 10 >= filters.len() * 9, "{telling} of {}", filters.len());
}

pub async fn visibility_orders_and_pages_as_the_evaluator(store: DynStore) {
    let runs = many_runs(&store).await;
    let key = |field: Field, descending: bool| OrderBy { field, descending };
    let orders = [
        vec![key(Field::System(System::StartTime), false)],
        vec![key(Field::System(System::CloseTime), true)],
        vec![key(Field::System(System::CloseTime), false)],
        vec![key(Field::System(System::WorkflowType), false), key(Field::System(System::WorkflowId), true)],
        vec![key(Field::System(System::ExecutionStatus), false)],
        vec![key(custom("Rank", T::Int), true)],
        vec![key(custom("Rank", T::Int), false), key(custom("When", T::Datetime), true)],
        vec![key(custom("Flag", T::Bool), false), key(Field::System(System::RunId), false)],
        vec![key(custom("Labels", T::KeywordList), false)],
        vec![key(custom("Price", T::Double), true)],
    ];
    for order_by in orders {
        for filter in [None, Some(sys(System::WorkflowType, Op::Ne, s("Ship")))] {
            check(&store, &runs, &Query { filter, group_by: None, order_by: order_by.clone() }).await;
        }
    }
}

pub async fn visibility_literals_are_bound_not_spliced(store: DynStore) {
    let nasty = "it's \"quoted\" \\ '; DROP TABLE visibility; -- \0 end";
    let mut args = StartArgs {
        namespace: NS.into(),
        workflow_id: nasty.into(),
        run_id: "run-nasty".into(),
        workflow_type: "Wf".into(),
        task_queue: "tq".into(),
        request_id: "req-nasty".into(),
        ..Default::default()
    };
    let value = serde_json_string(nasty);
    args.search_attributes = Some(SearchAttributes {
        indexed_fields: [("Kw".to_string(), json(&value)), (nasty.to_string(), json(&value))].into_iter().collect(),
    });
    let (_, create) = RunDriver::start_with(args, 1);
    commit1(&store, create).await.unwrap();
    let (_, create) = RunDriver::start_at(NS, "plain", "run-plain", 2);
    commit1(&store, create).await.unwrap();

    let ids = |page: RunsPage| run_ids(&page.runs);
    let list = |filter: Expr| {
        let store = store.clone();
        async move {
            ids(store.list_runs(NS, &Query { filter: Some(filter), ..Default::default() }, None, 10).await.unwrap())
        }
    };
    let kw = || custom("Kw", T::Keyword);
    assert_eq!(list(sys(System::WorkflowId, Op::Eq, s(nasty))).await, ["run-nasty"]);
    assert_eq!(list(sys(System::WorkflowId, Op::Eq, s("x' OR '1'='1"))).await, Vec::<String>::new());
    assert_eq!(list(starts(Field::System(System::WorkflowId), "it's \"quoted\" \\ '; DROP")).await, ["run-nasty"]);
    assert_eq!(list(cmp("Kw", T::Keyword, Op::Eq, s(nasty))).await, ["run-nasty"]);
    assert_eq!(list(cmp(nasty, T::Keyword, Op::Eq, s(nasty))).await, ["run-nasty"], "a hostile attribute name");
    assert_eq!(list(starts(kw(), &nasty[..nasty.len() - 3])).await, ["run-nasty"]);
    assert_eq!(list(cmp("Kw", T::Keyword, Op::Eq, s(&nasty[..nasty.len() - 1]))).await, Vec::<String>::new());

    // 10,000 values (bound as one array), the NUL one among them, and an
    // OR of 995 lists of 64: bounded work, no statement too large.
    let mut many: Vec<Value> = (0..10_000).map(|i| s(&format!("v-{i}' OR 1=1 --"))).collect();
    many.push(s(nasty));
    let started = Instant::now();
    assert_eq!(list(is_in(Field::System(System::WorkflowId), many.clone())).await, ["run-nasty"]);
    assert_eq!(list(is_in(kw(), many.clone())).await, ["run-nasty"]);
    assert_eq!(list(not(is_in(Field::System(System::WorkflowId), many.clone()))).await, ["run-plain"]);
    let wide = or((0..995).map(|i| is_in(kw(), many[i * 9..i * 9 + 64].to_vec())).collect());
    assert_eq!(list(wide).await, Vec::<String>::new());
    let count = store.count_runs(NS, &Query { filter: Some(is_in(kw(), many)), ..Default::default() });
    assert_eq!(count.await.unwrap().count, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());

    // A filter nested past any parser's limit is refused, not a crash.
    let mut deep = sys(System::WorkflowId, Op::Eq, s("a"));
    for _ in 0..2_000 {
        deep = not(and(vec![deep, sys(System::WorkflowId, Op::Eq, s("b"))]));
    }
    let refused = store.list_runs(NS, &Query { filter: Some(deep), ..Default::default() }, None, 10).await;
    assert!(matches!(refused, Err(StoreError::Internal(_))), "{refused:?}");

    // Everything is still there.
    assert_eq!(run_ids(&all_runs(&store, NS).await), ["run-plain", "run-nasty"]);
}

fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub async fn visibility_rows_follow_deletes(store: DynStore) {
    let mut args = StartArgs {
        namespace: NS.into(),
        workflow_id: "wf-gone".into(),
        run_id: "run-gone".into(),
        workflow_type: "Wf".into(),
        task_queue: "tq".into(),
        request_id: "req-gone".into(),
        ..Default::default()
    };
    args.search_attributes = Some(attributes(1));
    let (mut run, create) = RunDriver::start_with(args, 1);
    commit1(&store, create).await.unwrap();
    let tagged = Query { filter: Some(cmp("Color", T::Keyword, Op::Eq, s("blue"))), ..Default::default() };
    assert_eq!(store.count_runs(NS, &tagged).await.unwrap().count, 1);
    commit1(&store, run.step(RunDriver::terminate_input())).await.unwrap();
    store.delete_execution(NS, "wf-gone", "run-gone").await.unwrap();
    assert_eq!(store.count_runs(NS, &tagged).await.unwrap().count, 0);
    let present = Query { filter: Some(not(null(custom("Color", T::Keyword)))), ..Default::default() };
    assert_eq!(store.count_runs(NS, &present).await.unwrap().count, 0);
}
