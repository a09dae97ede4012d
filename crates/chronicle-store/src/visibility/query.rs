//! The backend-neutral description of a visibility query: a filter over
//! search attributes with SQL's three-valued logic, an optional GROUP BY
//! ExecutionStatus and an ORDER BY. The server's parser builds it from
//! Temporal's list filter language, with every literal already read as its
//! attribute's type; each backend compiles it (SQL backends through
//! `compile.rs`, in their dialect), and `eval.rs` is the reference meaning
//! they must all agree with.

use chronicle_engine::api::enums::v1::IndexedValueType;

/// A literal of a query, or the value of a run's attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Unix nanoseconds.
    Time(i128),
    /// A keyword list: a condition holds if it holds for one of its elements.
    List(Vec<Value>),
}

/// How a system attribute's literals are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Keyword,
    Datetime,
    Int,
    /// ExecutionStatus: a keyword naming the status ('Running'), compared
    /// as the enum's number, as Temporal's SQL visibility does.
    Status,
    /// ExecutionDuration: nanoseconds, or a duration string ('1h30m').
    Duration,
}

impl Kind {
    /// Temporal's type name, for errors.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Keyword | Kind::Status => "Keyword",
            Kind::Datetime => "Datetime",
            Kind::Int | Kind::Duration => "Int",
        }
    }

    /// The type GetSearchAttributes reports.
    pub fn indexed_type(self) -> IndexedValueType {
        match self {
            Kind::Keyword | Kind::Status => IndexedValueType::Keyword,
            Kind::Datetime => IndexedValueType::Datetime,
            Kind::Int | Kind::Duration => IndexedValueType::Int,
        }
    }
}

macro_rules! system_attributes {
    ($($variant:ident: $kind:ident),* $(,)?) => {
        /// System attributes backed by `WorkflowExecutionInfo` fields (each
        /// a column of the SQL visibility table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum System { $($variant),* }

        impl System {
            pub const ALL: &[System] = &[$(System::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(System::$variant => stringify!($variant)),* }
            }

            pub fn kind(self) -> Kind {
                match self { $(System::$variant => Kind::$kind),* }
            }
        }
    };
}

system_attributes! {
    WorkflowId: Keyword,
    WorkflowType: Keyword,
    RunId: Keyword,
    ExecutionStatus: Status,
    StartTime: Datetime,
    CloseTime: Datetime,
    ExecutionTime: Datetime,
    TaskQueue: Keyword,
    ParentWorkflowId: Keyword,
    ParentRunId: Keyword,
    RootWorkflowId: Keyword,
    RootRunId: Keyword,
    HistoryLength: Int,
    HistorySizeBytes: Int,
    StateTransitionCount: Int,
    ExecutionDuration: Duration,
}

/// An attribute a query names.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    System(System),
    /// A registered custom attribute (or one of Temporal's system
    /// attributes kept in a run's search attributes), looked up there;
    /// absent means NULL. Its values are read as their JSON payloads say,
    /// except that strings of a Datetime attribute are times.
    Custom {
        name: String,
        ty: IndexedValueType,
    },
}

impl Field {
    pub fn name(&self) -> &str {
        match self {
            Field::System(s) => s.name(),
            Field::Custom { name, .. } => name,
        }
    }

    /// The registered type of a custom attribute.
    pub fn custom_type(&self) -> Option<IndexedValueType> {
        match self {
            Field::Custom { ty, .. } => Some(*ty),
            Field::System(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A filter. NOT IN, NOT BETWEEN, NOT STARTS_WITH and IS NOT NULL are
/// `Not` of the positive form (SQL's three-valued logic gives the same).
/// AND and OR hold their operands flat (two or more), so evaluating and
/// dropping a long chain needs no deep recursion. Literals are typed as
/// their attribute (the parser's job): Str for keywords and text, Int or
/// Float for numbers, Bool, Time for datetimes, Int for ExecutionStatus.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare { field: Field, op: Op, value: Value },
    In { field: Field, values: Vec<Value> },
    Between { field: Field, low: Value, high: Value },
    StartsWith { field: Field, prefix: String },
    IsNull { field: Field },
}

impl Expr {
    pub fn and(self, other: Expr) -> Expr {
        match self {
            Expr::And(mut all) => {
                all.push(other);
                Expr::And(all)
            }
            first => Expr::And(vec![first, other]),
        }
    }

    pub fn system(field: System, op: Op, value: Value) -> Expr {
        Expr::Compare { field: Field::System(field), op, value }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub field: Field,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// None: every run.
    pub filter: Option<Expr>,
    /// Only ExecutionStatus, as on Temporal.
    pub group_by: Option<Field>,
    /// Empty: newest first (StartTime DESC, then run id DESC); otherwise
    /// these keys (NULLs last), then newest first.
    pub order_by: Vec<OrderBy>,
}
