//! Temporal's list filter language: a SQL WHERE clause over search
//! attributes (`WorkflowType = 'Order' AND ExecutionStatus = 'Running'`),
//! optionally followed by GROUP BY ExecutionStatus (for counts) and
//! ORDER BY. Literals are read as their attribute's type (system, or
//! registered custom) at parse time, so a bad value is an error before any
//! run is read.

use super::QueryError;
use super::fields::{self, Field, Kind, Value, type_name};
use super::lexer::{Tok, Token, syntax_error, tokenize};
use chronicle_engine::api::enums::v1::IndexedValueType;
use chronicle_store::CustomSearchAttributes;
pub use chronicle_store::visibility::{Expr, Op, OrderBy, Query, System};

use chronicle_engine::limits::{
    QUERY_BYTES_MAX, QUERY_NESTING_MAX as NESTING_MAX, QUERY_SYNTAX_DEPTH_MAX as AST_DEPTH_MAX,
};

/// Parses `input`; `registered` are the namespace's custom search
/// attributes, whose literals are read as their types.
pub fn parse(input: &str, registered: &CustomSearchAttributes) -> Result<Query, QueryError> {
    parse_with(input, registered, false)
}

/// Parses a standalone-activity listing's query: `ActivityId` and
/// `ActivityType` name the run key (`key_prefix` + id) and the run's type
/// (`WorkflowId` and `WorkflowType` match no activity); every id literal
/// comes back as its key.
pub fn parse_activities(
    input: &str,
    registered: &CustomSearchAttributes,
    key_prefix: &str,
) -> Result<Query, QueryError> {
    let mut query = parse_with(input, registered, true)?;
    if let Some(filter) = query.filter.as_mut() {
        as_keys(filter, key_prefix);
    }
    Ok(query)
}

/// Every WorkflowId literal in `e` prefixed as a key.
fn as_keys(e: &mut Expr, prefix: &str) {
    let key = |v: &mut Value| {
        if let Value::Str(s) = v {
            *s = format!("{prefix}{s}");
        }
    };
    let is_id = |f: &Field| *f == Field::System(System::WorkflowId);
    match e {
        Expr::And(all) | Expr::Or(all) => all.iter_mut().for_each(|e| as_keys(e, prefix)),
        Expr::Not(inner) => as_keys(inner, prefix),
        Expr::Compare { field, value, .. } if is_id(field) => key(value),
        Expr::In { field, values } if is_id(field) => values.iter_mut().for_each(key),
        Expr::Between { field, low, high } if is_id(field) => {
            key(low);
            key(high);
        }
        Expr::StartsWith { field, prefix: p } if is_id(field) => *p = format!("{prefix}{p}"),
        _ => {}
    }
}

fn parse_with(input: &str, registered: &CustomSearchAttributes, activities: bool) -> Result<Query, QueryError> {
    if input.len() > QUERY_BYTES_MAX {
        return Err(QueryError(format!(
            "query is {} bytes long, longer than the {QUERY_BYTES_MAX} bytes allowed",
            input.len()
        )));
    }
    let mut p =
        Parser { tokens: tokenize(input)?, next: 0, end: input.chars().count() + 1, depth: 0, registered, activities };
    let mut query = Query::default();
    if !matches!(p.peek(), None | Some(Tok::Keyword("GROUP" | "ORDER"))) {
        query.filter = Some(p.or()?.0);
    }
    if p.eat_keyword("GROUP") {
        p.expect_keyword("BY")?;
        let field = p.field()?;
        if p.peek() == Some(&Tok::Comma) {
            return Err(unsupported("'GROUP BY' clause supports only a single field"));
        }
        if field != Field::System(System::ExecutionStatus) {
            return Err(unsupported(&format!(
                "'GROUP BY' clause is not supported for search attribute {}",
                field.name()
            )));
        }
        query.group_by = Some(field);
    }
    if p.eat_keyword("ORDER") {
        p.expect_keyword("BY")?;
        loop {
            let field = p.field()?;
            if field.custom_type() == Some(IndexedValueType::Text) {
                return Err(unsupported("unable to sort by search attribute type Text"));
            }
            let descending = p.eat_keyword("DESC");
            if !descending {
                p.eat_keyword("ASC");
            }
            query.order_by.push(OrderBy { field, descending });
            if !p.eat(&Tok::Comma) {
                break;
            }
        }
        // The default order spelled out is the default order.
        if query.order_by == [OrderBy { field: Field::System(System::StartTime), descending: true }] {
            query.order_by.clear();
        }
    }
    match p.tokens.get(p.next) {
        None => Ok(query),
        Some(t) => Err(p.syntax_error_at(t)),
    }
}

fn too_deep() -> QueryError {
    QueryError("malformed SQL query: max ast depth reached".into())
}

fn unsupported(what: &str) -> QueryError {
    QueryError(format!("operation is not supported: {what}"))
}

struct Parser<'a> {
    tokens: Vec<Token>,
    next: usize,
    /// Position reported for errors at the end of the query.
    end: usize,
    /// Parentheses and NOTs open around the current token.
    depth: usize,
    registered: &'a CustomSearchAttributes,
    /// A standalone-activity listing (`parse_activities`).
    activities: bool,
}

/// What Temporal allows on Text (word match: = and != only) and
/// KeywordList (element match: =, !=, IN) attributes.
fn check_operator(field: &Field, operator: &str) -> Result<(), QueryError> {
    let Some(ty @ (IndexedValueType::Text | IndexedValueType::KeywordList)) = field.custom_type() else {
        return Ok(());
    };
    let allowed = match ty {
        IndexedValueType::Text => ["=", "!="].as_slice(),
        _ => ["=", "!=", "IN", "NOT IN"].as_slice(),
    };
    if operator.ends_with("BETWEEN") {
        return Err(QueryError(format!(
            "invalid expression: cannot do range condition on search attribute '{}' of type {}",
            field.name(),
            type_name(ty)
        )));
    }
    if allowed.contains(&operator) {
        return Ok(());
    }
    Err(unsupported(&format!(
        "operator '{operator}' not supported for {} type search attribute '{}'",
        type_name(ty),
        field.name()
    )))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.next).map(|t| &t.tok)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.next).cloned();
        self.next += 1;
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let hit = self.peek() == Some(tok);
        if hit {
            self.next += 1;
        }
        hit
    }

    fn eat_keyword(&mut self, k: &'static str) -> bool {
        self.eat(&Tok::Keyword(k))
    }

    fn expect_keyword(&mut self, k: &'static str) -> Result<(), QueryError> {
        if self.eat_keyword(k) { Ok(()) } else { Err(self.syntax_error()) }
    }

    fn syntax_error(&self) -> QueryError {
        match self.tokens.get(self.next) {
            Some(t) => self.syntax_error_at(t),
            None => QueryError(format!("malformed SQL query: syntax error at position {}: unexpected end", self.end)),
        }
    }

    fn syntax_error_at(&self, t: &Token) -> QueryError {
        syntax_error(t.pos, &show(&t.tok))
    }

    fn or(&mut self) -> Result<(Expr, usize), QueryError> {
        self.chain("OR", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<(Expr, usize), QueryError> {
        self.chain("AND", Self::unary, Expr::And)
    }

    /// `operand (KEYWORD operand)*`, kept flat, with the depth Temporal's
    /// left-deep binary tree would have: the i-th of n operands sits
    /// n - max(i, 1) levels below the top.
    fn chain(
        &mut self,
        keyword: &'static str,
        operand: fn(&mut Self) -> Result<(Expr, usize), QueryError>,
        build: fn(Vec<Expr>) -> Expr,
    ) -> Result<(Expr, usize), QueryError> {
        let (first, first_depth) = operand(self)?;
        if self.peek() != Some(&Tok::Keyword(keyword)) {
            return Ok((first, first_depth));
        }
        let mut operands = vec![(first, first_depth)];
        while self.eat_keyword(keyword) {
            operands.push(operand(self)?);
            // A chain this long is too deep whatever follows.
            if operands.len() > AST_DEPTH_MAX {
                return Err(too_deep());
            }
        }
        let n = operands.len();
        let depth = operands.iter().enumerate().map(|(i, (_, d))| d + n - i.max(1)).max().unwrap_or(0);
        self.check_depth(depth)?;
        Ok((build(operands.into_iter().map(|(e, _)| e).collect()), depth))
    }

    fn check_depth(&self, depth: usize) -> Result<(), QueryError> {
        if depth + self.depth > AST_DEPTH_MAX { Err(too_deep()) } else { Ok(()) }
    }

    /// NOT and parentheses nest; `NOT`s fold by parity (NOT NOT x is x
    /// under three-valued logic too), so no run of them recurses.
    fn unary(&mut self) -> Result<(Expr, usize), QueryError> {
        let outer = self.depth;
        let mut negations = 0usize;
        while self.peek() == Some(&Tok::Keyword("NOT")) {
            self.enter("not")?;
            self.next += 1;
            negations += 1;
        }
        let (expr, depth) = if self.peek() == Some(&Tok::LParen) {
            self.enter("")?;
            self.next += 1;
            let (inner, depth) = self.or()?;
            if !self.eat(&Tok::RParen) {
                return Err(self.syntax_error());
            }
            (inner, depth + 1)
        } else {
            (self.predicate()?, 1)
        };
        self.depth = outer;
        let depth = depth + negations;
        self.check_depth(depth)?;
        Ok((if negations % 2 == 1 { Expr::Not(Box::new(expr)) } else { expr }, depth))
    }

    /// One more level of nesting at the current token.
    fn enter(&mut self, near: &str) -> Result<(), QueryError> {
        if self.depth >= NESTING_MAX {
            let pos = self.tokens.get(self.next).map_or(self.end, |t| t.pos);
            let near = if near.is_empty() { String::new() } else { format!(" near '{near}'") };
            return Err(QueryError(format!("malformed SQL query: max nesting level reached at position {pos}{near}")));
        }
        self.depth += 1;
        Ok(())
    }

    fn field(&mut self) -> Result<Field, QueryError> {
        match self.peek() {
            Some(Tok::Ident(name)) => {
                let field = match (self.activities, name.as_str()) {
                    (true, "ActivityId") => Field::System(System::WorkflowId),
                    (true, "ActivityType") => Field::System(System::WorkflowType),
                    // Known names that no activity has, as on Temporal:
                    // read as an attribute never set on an activity's run.
                    (true, "WorkflowId" | "WorkflowType") => Field::System(System::ParentWorkflowId),
                    _ => fields::resolve(name, self.registered)?,
                };
                self.next += 1;
                Ok(field)
            }
            Some(Tok::Str(_) | Tok::Int(_) | Tok::Float(_) | Tok::Keyword("TRUE" | "FALSE")) => {
                let t = self.bump().map(|t| show(&t.tok)).unwrap_or_default();
                Err(QueryError(format!("invalid expression: must be a search attribute name but was {t}")))
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// `field op value`, `field [NOT] IN (...)`, `field [NOT] BETWEEN a AND
    /// b`, `field [NOT] STARTS_WITH 'p'`, `field IS [NOT] NULL`.
    fn predicate(&mut self) -> Result<Expr, QueryError> {
        let field = self.field()?;
        let negated = self.eat_keyword("NOT");
        let not = if negated { "NOT " } else { "" };
        let at = self.next;
        let expr = match self.bump().map(|t| t.tok) {
            Some(Tok::Op(op)) if !negated => {
                let op = match op {
                    "=" => Op::Eq,
                    "!=" => Op::Ne,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    _ => Op::Ge,
                };
                check_operator(&field, op.symbol())?;
                let value = self.operand(&field)?;
                if field.custom_type() == Some(IndexedValueType::Text)
                    && matches!(&value, Value::Str(s) if fields::words(s).is_empty())
                {
                    return Err(QueryError(format!(
                        "invalid expression: no tokens found filtering on Text type search attribute {}",
                        field.name()
                    )));
                }
                Expr::Compare { field, op, value }
            }
            Some(Tok::Keyword("IN")) => {
                check_operator(&field, &format!("{not}IN"))?;
                if !self.eat(&Tok::LParen) {
                    return Err(self.syntax_error());
                }
                let mut values = vec![self.operand(&field)?];
                while self.eat(&Tok::Comma) {
                    values.push(self.operand(&field)?);
                }
                if !self.eat(&Tok::RParen) {
                    return Err(self.syntax_error());
                }
                Expr::In { field, values }
            }
            Some(Tok::Keyword("BETWEEN")) => {
                check_operator(&field, &format!("{not}BETWEEN"))?;
                let low = self.operand(&field)?;
                self.expect_keyword("AND")?;
                let high = self.operand(&field)?;
                Expr::Between { field, low, high }
            }
            Some(Tok::Keyword("STARTS_WITH")) => {
                check_operator(&field, &format!("{not}STARTS_WITH"))?;
                if let Field::System(s) = &field
                    && s.kind() != Kind::Keyword
                {
                    return Err(unsupported(&format!(
                        "operator 'STARTS_WITH' not supported for search attribute '{}'",
                        s.name()
                    )));
                }
                match self.operand(&field)? {
                    Value::Str(prefix) => Expr::StartsWith { field, prefix },
                    other => {
                        return Err(QueryError(format!(
                            "invalid expression: STARTS_WITH needs a string, not {other:?} for '{}'",
                            field.name()
                        )));
                    }
                }
            }
            Some(Tok::Keyword("LIKE")) => {
                return Err(unsupported(&format!(
                    "operator 'LIKE' not supported for search attribute '{}' (use STARTS_WITH for a prefix)",
                    field.name()
                )));
            }
            Some(Tok::Keyword("IS")) if !negated => {
                let not_null = self.eat_keyword("NOT");
                self.expect_keyword("NULL")?;
                let is_null = Expr::IsNull { field };
                return Ok(if not_null { Expr::Not(Box::new(is_null)) } else { is_null });
            }
            None | Some(Tok::RParen | Tok::Keyword("AND" | "OR" | "GROUP" | "ORDER")) if !negated => {
                return Err(QueryError("invalid expression: incomplete expression".into()));
            }
            Some(_) | None => {
                self.next = at;
                return Err(self.syntax_error());
            }
        };
        Ok(if negated { Expr::Not(Box::new(expr)) } else { expr })
    }

    /// A literal, read as `field`'s type when it has one.
    fn operand(&mut self, field: &Field) -> Result<Value, QueryError> {
        let negative = self.eat(&Tok::Minus);
        let at = self.next;
        let literal = match (self.bump().map(|t| t.tok), negative) {
            (Some(Tok::Str(s)), false) => Value::Str(s),
            (Some(Tok::Int(i)), _) => Value::Int(if negative { -i } else { i }),
            (Some(Tok::Float(f)), _) => Value::Float(if negative { -f } else { f }),
            (Some(Tok::Keyword("TRUE")), false) => Value::Bool(true),
            (Some(Tok::Keyword("FALSE")), false) => Value::Bool(false),
            (Some(Tok::Ident(name)), false) => {
                return Err(unsupported(&format!(
                    "column name on the right side of comparison expression (did you forget to quote \"{name}\"?)"
                )));
            }
            (Some(Tok::Keyword("NULL")), false) => {
                return Err(QueryError("invalid expression: compare with NULL using IS NULL or IS NOT NULL".into()));
            }
            _ => {
                self.next = at;
                return Err(self.syntax_error());
            }
        };
        match field {
            Field::System(s) => fields::convert(*s, literal),
            Field::Custom { name, ty } => fields::convert_custom(name, *ty, literal),
        }
    }
}

fn show(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => s.clone(),
        Tok::Keyword(k) => k.to_string(),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Int(i) => i.to_string(),
        Tok::Float(f) => f.to_string(),
        Tok::Op(op) => op.to_string(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Comma => ",".into(),
        Tok::Minus => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Query {
        super::parse(q, &registered()).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    fn filter(q: &str) -> Expr {
        parse(q).filter.unwrap()
    }

    fn err(q: &str) -> String {
        match super::parse(q, &registered()) {
            Ok(parsed) => panic!("{q} parsed as {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn registered() -> CustomSearchAttributes {
        use IndexedValueType as T;
        [("Kw", T::Keyword), ("Txt", T::Text), ("Num", T::Int), ("Dbl", T::Double), ("Flag", T::Bool)]
            .into_iter()
            .chain([("When", T::Datetime), ("Tags", T::KeywordList)])
            .map(|(n, t)| (n.to_string(), t))
            .collect()
    }

    fn custom(name: &str, ty: IndexedValueType) -> Field {
        Field::Custom { name: name.into(), ty }
    }

    fn sys(s: System, op: Op, v: Value) -> Expr {
        Expr::system(s, op, v)
    }

    fn str(s: &str) -> Value {
        Value::Str(s.into())
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(vec![a, b])
    }

    #[test]
    fn empty_query_is_everything() {
        assert_eq!(parse(""), Query::default());
        assert_eq!(parse("   "), Query::default());
    }

    #[test]
    fn comparisons() {
        assert_eq!(filter("WorkflowId = 'w1'"), sys(System::WorkflowId, Op::Eq, str("w1")));
        assert_eq!(filter("WorkflowType=\"Foo\""), sys(System::WorkflowType, Op::Eq, str("Foo")));
        assert_eq!(filter("`RunId` != 'r'"), sys(System::RunId, Op::Ne, str("r")));
        assert_eq!(filter("RunId <> 'r'"), sys(System::RunId, Op::Ne, str("r")));
        assert_eq!(filter("HistoryLength > 10"), sys(System::HistoryLength, Op::Gt, Value::Int(10)));
        assert_eq!(filter("HistoryLength <= -1.5"), sys(System::HistoryLength, Op::Le, Value::Float(-1.5)));
        assert_eq!(filter("HistorySizeBytes >= 0"), sys(System::HistorySizeBytes, Op::Ge, Value::Int(0)));
        assert_eq!(filter("TaskQueue < 'q'"), sys(System::TaskQueue, Op::Lt, str("q")));
        assert_eq!(filter("ExecutionStatus = 'Running'"), sys(System::ExecutionStatus, Op::Eq, Value::Int(1)));
        assert_eq!(
            filter("StartTime > '2024-01-01T00:00:00Z'"),
            sys(System::StartTime, Op::Gt, Value::Time(1_704_067_200_000_000_000))
        );
        assert_eq!(
            filter("ExecutionDuration > '1s'"),
            sys(System::ExecutionDuration, Op::Gt, Value::Int(1_000_000_000))
        );
        assert_eq!(
            filter("Flag = true"),
            Expr::Compare { field: custom("Flag", IndexedValueType::Bool), op: Op::Eq, value: Value::Bool(true) }
        );
        assert_eq!(
            filter("Num > 3"),
            Expr::Compare { field: custom("Num", IndexedValueType::Int), op: Op::Gt, value: Value::Int(3) }
        );
    }

    #[test]
    fn registered_attributes_take_their_types() {
        use IndexedValueType as T;
        let typed = |q: &str| super::parse(q, &registered()).unwrap_or_else(|e| panic!("{q}: {e}")).filter.unwrap();
        assert_eq!(
            typed("When > '2024-01-01T00:00:00Z'"),
            Expr::Compare {
                field: custom("When", T::Datetime),
                op: Op::Gt,
                value: Value::Time(1_704_067_200_000_000_000)
            }
        );
        assert_eq!(
            typed("Num IN (1, 2.0)"),
            Expr::In { field: custom("Num", T::Int), values: vec![Value::Int(1), Value::Float(2.0)] }
        );
        assert_eq!(
            typed("Tags NOT IN ('a')"),
            not(Expr::In { field: custom("Tags", T::KeywordList), values: vec![str("a")] })
        );
        assert_eq!(
            typed("Txt != 'hello'"),
            Expr::Compare { field: custom("Txt", T::Text), op: Op::Ne, value: str("hello") }
        );
        assert_eq!(
            typed("Kw STARTS_WITH 'a'"),
            Expr::StartsWith { field: custom("Kw", T::Keyword), prefix: "a".into() }
        );
        assert_eq!(typed("Tags IS NULL"), Expr::IsNull { field: custom("Tags", T::KeywordList) });
        assert!(super::parse("ORDER BY Num DESC, Kw", &registered()).is_ok());
    }

    #[test]
    fn registered_attributes_refuse_what_temporal_refuses() {
        assert_eq!(
            err("Num = '42'"),
            "invalid query: invalid expression: invalid value type for search attribute Num of type Int: \"42\" (type: string)"
        );
        assert!(err("Kw = 5").contains("search attribute Kw of type Keyword: 5 (type: int64)"));
        assert!(err("Flag = 'true'").contains("search attribute Flag of type Bool"));
        assert!(err("Dbl = 'x'").contains("search attribute Dbl of type Double"));
        assert_eq!(
            err("When > 'yesterday'"),
            "invalid query: invalid expression: unable to parse datetime 'yesterday'"
        );
        assert_eq!(
            err("Txt > 'a'"),
            "invalid query: operation is not supported: operator '>' not supported for Text type search attribute 'Txt'"
        );
        assert!(err("Txt IN ('a')").contains("operator 'IN' not supported for Text type search attribute 'Txt'"));
        assert!(err("Txt NOT IN ('a')").contains("operator 'NOT IN' not supported for Text type"));
        assert!(err("Txt STARTS_WITH 'a'").contains("operator 'STARTS_WITH' not supported for Text type"));
        assert!(err("Txt NOT STARTS_WITH 'a'").contains("operator 'NOT STARTS_WITH' not supported for Text type"));
        assert_eq!(
            err("Txt BETWEEN 'a' AND 'b'"),
            "invalid query: invalid expression: cannot do range condition on search attribute 'Txt' of type Text"
        );
        assert_eq!(
            err("Txt = ' ,'"),
            "invalid query: invalid expression: no tokens found filtering on Text type search attribute Txt"
        );
        assert!(err("Txt = 5").contains("search attribute Txt of type Text: 5 (type: int64)"));
        assert!(
            err("Tags <= 'a'").contains("operator '<=' not supported for KeywordList type search attribute 'Tags'")
        );
        assert!(err("Tags STARTS_WITH 'a'").contains("operator 'STARTS_WITH' not supported for KeywordList type"));
        assert!(err("Tags NOT BETWEEN 'a' AND 'b'").contains("cannot do range condition on search attribute 'Tags'"));
        assert!(err("Tags = 5").contains("search attribute Tags of type KeywordList"));
        assert_eq!(
            err("ORDER BY Txt"),
            "invalid query: operation is not supported: unable to sort by search attribute type Text"
        );
        assert_eq!(err("kw = 'a'"), "invalid query: invalid search attribute: kw");
        assert_eq!(err("Nobody = 'a'"), "invalid query: invalid search attribute: Nobody");
        assert_eq!(err("ORDER BY Nobody"), "invalid query: invalid search attribute: Nobody");
    }

    #[test]
    fn nesting_and_depth_are_bounded_as_on_temporal() {
        // Limits measured on Temporal's dev server: 199 levels of
        // parentheses or NOTs pass, 200 do not; an OR (or AND) chain of 995
        // comparisons passes, 996 do not, nor 995 parenthesised ones.
        let a = || sys(System::WorkflowId, Op::Eq, str("a"));
        let nested = |n: usize| format!("{}WorkflowId = 'a'{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(filter(&nested(199)), a());
        assert!(err(&nested(200)).contains("max nesting level reached"), "{}", err(&nested(200)));
        assert!(err(&nested(100_000)).contains("max nesting level reached"));
        let nots = |n: usize| format!("{}WorkflowId = 'a'", "NOT ".repeat(n));
        assert_eq!(filter(&nots(198)), a());
        assert_eq!(filter(&nots(199)), not(a()));
        assert!(
            err(&nots(200)).contains("max nesting level reached at position 797 near 'not'"),
            "{}",
            err(&nots(200))
        );
        assert!(err(&nots(10_000)).contains("max nesting level reached"));
        assert!(err(&format!("{}WorkflowId = 'a'{}", "(NOT ".repeat(100), ")".repeat(100))).contains("nesting"));
        let chain = |n: usize, op: &str, term: &str| vec![term; n].join(op);
        match filter(&chain(995, " OR ", "WorkflowId = 'a'")) {
            Expr::Or(any) => assert_eq!(any.len(), 995),
            other => panic!("{other:?}"),
        }
        filter(&chain(995, " AND ", "WorkflowId = 'a'"));
        filter(&chain(994, " OR ", "WorkflowId = 'a' AND WorkflowId = 'b'"));
        for q in [
            chain(996, " OR ", "WorkflowId = 'a'"),
            chain(996, " AND ", "WorkflowId = 'a'"),
            chain(995, " OR ", "(WorkflowId = 'a')"),
            format!("{}{}{}", "(".repeat(100), chain(945, " OR ", "WorkflowId = 'a'"), ")".repeat(100)),
            chain(50_000, " OR ", "WorkflowId = 'a'"),
        ] {
            assert_eq!(err(&q), "invalid query: malformed SQL query: max ast depth reached");
        }
        let long = format!("WorkflowId = '{}'", "a".repeat(QUERY_BYTES_MAX));
        assert!(err(&long).contains("bytes allowed"), "{}", err(&long));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let a = sys(System::WorkflowId, Op::Eq, str("a"));
        let b = sys(System::WorkflowId, Op::Eq, str("b"));
        let t = sys(System::WorkflowType, Op::Eq, str("T"));
        assert_eq!(
            filter("WorkflowId = 'a' OR WorkflowId = 'b' AND WorkflowType = 'T'"),
            or(a.clone(), b.clone().and(t.clone()))
        );
        assert_eq!(
            filter("(WorkflowId = 'a' OR WorkflowId = 'b') AND WorkflowType = 'T'"),
            or(a.clone(), b.clone()).and(t.clone())
        );
        assert_eq!(
            filter("WorkflowId = 'a' and WorkflowId = 'b' or WorkflowType = 'T'"),
            or(a.clone().and(b.clone()), t.clone())
        );
        assert_eq!(filter("((WorkflowId = 'a'))"), a.clone());
        assert_eq!(filter("NOT WorkflowId = 'a' AND WorkflowId = 'b'"), not(a.clone()).and(b.clone()));
        assert_eq!(filter("NOT (WorkflowId = 'a' OR WorkflowId = 'b')"), not(or(a, b)));
    }

    #[test]
    fn in_between_starts_with_and_null() {
        assert_eq!(
            filter("WorkflowId IN ('a', \"b\")"),
            Expr::In { field: Field::System(System::WorkflowId), values: vec![str("a"), str("b")] }
        );
        assert_eq!(
            filter("ExecutionStatus NOT IN ('Completed','Failed')"),
            not(Expr::In { field: Field::System(System::ExecutionStatus), values: vec![Value::Int(2), Value::Int(3)] })
        );
        assert_eq!(
            filter("HistoryLength BETWEEN 1 AND 5"),
            Expr::Between { field: Field::System(System::HistoryLength), low: Value::Int(1), high: Value::Int(5) }
        );
        assert_eq!(
            filter("WorkflowId not between 'a' and 'b' AND RunId = 'r'"),
            not(Expr::Between { field: Field::System(System::WorkflowId), low: str("a"), high: str("b") }).and(sys(
                System::RunId,
                Op::Eq,
                str("r")
            ))
        );
        assert_eq!(
            filter("WorkflowId STARTS_WITH 'order-'"),
            Expr::StartsWith { field: Field::System(System::WorkflowId), prefix: "order-".into() }
        );
        assert_eq!(
            filter("WorkflowType NOT STARTS_WITH 'X'"),
            not(Expr::StartsWith { field: Field::System(System::WorkflowType), prefix: "X".into() })
        );
        assert_eq!(filter("CloseTime IS NULL"), Expr::IsNull { field: Field::System(System::CloseTime) });
        assert_eq!(filter("CloseTime is not null"), not(Expr::IsNull { field: Field::System(System::CloseTime) }));
    }

    #[test]
    fn group_by_and_order_by() {
        let q = parse("GROUP BY ExecutionStatus");
        assert_eq!((q.filter, q.group_by), (None, Some(Field::System(System::ExecutionStatus))));
        let q = parse("WorkflowType = 'T' GROUP BY ExecutionStatus");
        assert!(q.filter.is_some() && q.group_by.is_some());
        assert_eq!(parse("ORDER BY StartTime DESC"), Query::default(), "the default order");
        let q = parse("WorkflowType = 'T' ORDER BY CloseTime, WorkflowId DESC");
        assert_eq!(
            q.order_by,
            vec![
                OrderBy { field: Field::System(System::CloseTime), descending: false },
                OrderBy { field: Field::System(System::WorkflowId), descending: true },
            ]
        );
        assert_eq!(parse("order by StartTime asc").order_by.len(), 1);
    }

    #[test]
    fn syntax_errors_name_the_position() {
        assert_eq!(
            err("WorkflowId == 'x'"),
            "invalid query: malformed SQL query: syntax error at position 13 near '='"
        );
        assert_eq!(
            err("WorkflowId = 'w1' AND"),
            "invalid query: malformed SQL query: syntax error at position 22: unexpected end"
        );
        assert_eq!(
            err("(WorkflowId = 'w1'"),
            "invalid query: malformed SQL query: syntax error at position 19: unexpected end"
        );
        assert_eq!(
            err("WorkflowId = 'w1')"),
            "invalid query: malformed SQL query: syntax error at position 18 near ')'"
        );
        assert_eq!(
            err("WorkflowId = "),
            "invalid query: malformed SQL query: syntax error at position 14: unexpected end"
        );
        assert!(err("WorkflowId IN ()").contains("near ')'"));
        assert!(err("WorkflowId IN 'a'").contains("near ''a''"));
        assert!(err("WorkflowId BETWEEN 'a' OR 'b'").contains("near 'OR'"));
        assert!(err("WorkflowId = 'a' WorkflowType = 'b'").contains("near 'WorkflowType'"));
        assert!(err("WorkflowId IS 'a'").contains("near ''a''"));
        assert!(err("WorkflowId = 'a' ORDER StartTime").contains("near 'StartTime'"));
        assert!(err("WorkflowId = 'a' ;").contains("near ';'"));
        assert!(err("= 'a'").contains("near '='"));
    }

    #[test]
    fn semantic_errors_read_like_temporal() {
        assert_eq!(err("WorkflowId"), "invalid query: invalid expression: incomplete expression");
        assert_eq!(err("WorkflowId AND RunId = 'r'"), "invalid query: invalid expression: incomplete expression");
        assert_eq!(
            err("'w1' = WorkflowId"),
            "invalid query: invalid expression: must be a search attribute name but was 'w1'"
        );
        assert_eq!(
            err("WorkflowId = WorkflowType"),
            "invalid query: operation is not supported: column name on the right side of comparison expression \
             (did you forget to quote \"WorkflowType\"?)"
        );
        assert_eq!(err("workflowid = 'w1'"), "invalid query: invalid search attribute: workflowid");
        assert_eq!(
            err("ExecutionStatus = 'running'"),
            "invalid query: invalid expression: invalid ExecutionStatus value 'running'"
        );
        assert_eq!(
            err("StartTime > 'yesterday'"),
            "invalid query: invalid expression: unable to parse datetime 'yesterday'"
        );
        assert!(
            err("HistoryLength > 'abc'").contains("invalid value type for search attribute HistoryLength of type Int")
        );
        assert!(err("WorkflowId = 5").contains("of type Keyword: 5 (type: int64)"));
        assert!(err("WorkflowId LIKE 'w%'").contains("operator 'LIKE' not supported"));
        assert!(err("HistoryLength STARTS_WITH 'a'").contains("operator 'STARTS_WITH' not supported"));
        assert!(err("When STARTS_WITH '2024-01-01T00:00:00Z'").contains("STARTS_WITH needs a string"));
        assert!(err("WorkflowId = NULL").contains("IS NULL"));
        assert_eq!(
            err("GROUP BY WorkflowType"),
            "invalid query: operation is not supported: 'GROUP BY' clause is not supported for search attribute WorkflowType"
        );
        assert_eq!(
            err("GROUP BY ExecutionStatus, WorkflowType"),
            "invalid query: operation is not supported: 'GROUP BY' clause supports only a single field"
        );
    }
}
