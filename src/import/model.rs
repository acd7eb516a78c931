//! The imported scenario before it is written: what every reader (Locust, HAR, OpenAPI) builds
//! and `toml_out` writes as a blast profile. Values are blast template text (`{{token}}`).

/// A whole profile: `[args]`, `[data]`, `[[on_start]]`, `[[request]]`/`[[flow]]`, with the
/// comments that explain where each figure came from and what was not translated.
#[derive(Debug, Default)]
pub struct Profile {
    /// Where it came from (`description`).
    pub description: String,
    /// Comments at the top of the file.
    pub header: Vec<String>,
    /// `[args] target`: scheme, host and port.
    pub target: String,
    /// Why this target (the class's `host`, `--host`, or a default).
    pub target_note: Option<String>,
    /// `[args] rate`, as text (`"66.67"`).
    pub rate: String,
    /// The arithmetic behind the rate.
    pub rate_note: Vec<String>,
    /// `[args] duration`.
    pub duration: String,
    /// `[args] timeout`, when the source sets one.
    pub timeout: Option<String>,
    /// `[args] users`: virtual users (Locust's `-u`), each running `[[on_start]]` once.
    pub users: Option<u64>,
    /// `[data] users = { file }`.
    pub users_file: Option<String>,
    /// Steps every virtual user runs once first.
    pub on_start: Vec<Step>,
    /// Comments before `[[on_start]]` (constructs of `on_start` that were not translated).
    pub on_start_notes: Vec<String>,
    /// Requests and flows in the order of the source.
    pub items: Vec<Item>,
    /// Comments at the end (constructs outside any task).
    pub trailer: Vec<String>,
}

/// A `[[request]]`, a `[[flow]]`, or only comments where a task could not be translated.
#[derive(Debug)]
pub enum Item {
    Request { weight: u64, step: Box<Step> },
    Flow(Flow),
    Comments(Vec<String>),
}

/// A `[[flow]]`.
#[derive(Debug, Default)]
pub struct Flow {
    pub name: String,
    pub weight: u64,
    pub tags: Vec<String>,
    pub comments: Vec<String>,
    pub steps: Vec<Step>,
}

/// One request: a `[[request]]`, an `[[on_start]]` or a flow's step.
#[derive(Debug, Default, Clone)]
pub struct Step {
    /// Comments written above it (source lines, untranslated constructs inside it).
    pub comments: Vec<String>,
    pub name: String,
    pub method: String,
    /// The path and query, a template.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// `multipart = [...]` (issue 24); the body is then `Body::Empty`.
    pub multipart: Vec<Part>,
    /// `capture = { var = "/pointer" }`.
    pub capture: Vec<(String, String)>,
    /// `scope = "user"`.
    pub scope_user: bool,
    /// `repeat = N` or a template.
    pub repeat: Option<String>,
    /// `split = { total, chunk }` (issue 24): sizes as text.
    pub split: Option<(String, String)>,
    /// `expect = { status = [...] }` (issue 24).
    pub expect_status: Vec<u16>,
    /// `expect = { json = { "/ptr" = "value" } }` (issue 24).
    pub expect_json: Vec<(String, String)>,
    /// `expect = { body_contains = "..." }` (issue 24).
    pub expect_contains: Option<String>,
    /// `slow = "5s"` (issue 24).
    pub slow: Option<String>,
    /// `tags = [...]` (issue 24).
    pub tags: Vec<String>,
}

impl Step {
    /// A `repeat` or `split` makes it a flow's step.
    pub fn needs_flow(&self) -> bool {
        self.repeat.is_some() || self.split.is_some() || !self.capture.is_empty()
    }
}

/// A request body.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Body {
    #[default]
    Empty,
    /// `body = '...'`: a template sent as text.
    Text(String),
    /// `json = { ... }` (issue 24): the TOML value as written (inline), sent as JSON; strings
    /// are templates.
    Json(String),
    /// `body = { random_bytes = "10M" }`.
    RandomBytes(String),
    /// `body = { file = "PATH" }`.
    File(String),
}

/// One part of `multipart = [...]` (issue 24).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    /// A form field's value (a template).
    pub value: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// The file's bytes: the step's split chunk.
    pub chunk: bool,
    /// The file's bytes: this many random bytes.
    pub random_bytes: Option<String>,
    /// The file's bytes: a file.
    pub file: Option<String>,
}

/// A construct that was not translated: where, its source text and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub line: usize,
    pub source: String,
    pub why: String,
}

impl Skipped {
    /// The comment written at its place in the output.
    pub fn comment(&self, file: &str) -> String {
        format!("NOT TRANSLATED {file}:{}: {}  ({})", self.line, self.source, self.why)
    }
}

/// Counts for the summary line.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: usize,
    pub flows: usize,
    pub on_start: usize,
}

impl Profile {
    pub fn counts(&self) -> Counts {
        let mut c = Counts { on_start: self.on_start.len(), ..Counts::default() };
        for item in &self.items {
            match item {
                Item::Request { .. } => c.requests += 1,
                Item::Flow(_) => c.flows += 1,
                Item::Comments(_) => {}
            }
        }
        c
    }

    /// Gives every request name one method: Locust keys its rows by method and name, a blast
    /// name belongs to one method, so a name used by two methods becomes `METHOD name`.
    pub fn unique_names(&mut self) {
        let mut methods: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
        let mut flows = std::collections::BTreeSet::new();
        for step in self.all_steps() {
            methods.entry(step.name.clone()).or_default().insert(step.method.clone());
        }
        for item in &self.items {
            if let Item::Flow(f) = item {
                flows.insert(f.name.clone());
            }
        }
        let clash = |name: &str| methods.get(name).is_some_and(|m| m.len() > 1) || flows.contains(name);
        let rename: Vec<String> = methods.keys().filter(|n| clash(n)).cloned().collect();
        for step in self.all_steps_mut() {
            if rename.contains(&step.name) {
                step.name = format!("{} {}", step.method, step.name);
            }
        }
    }

    fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.on_start.iter().chain(self.items.iter().flat_map(|i| match i {
            Item::Request { step, .. } => std::slice::from_ref(&**step).iter(),
            Item::Flow(f) => f.steps.iter(),
            Item::Comments(_) => [].iter(),
        }))
    }

    fn all_steps_mut(&mut self) -> impl Iterator<Item = &mut Step> {
        self.on_start.iter_mut().chain(self.items.iter_mut().flat_map(|i| match i {
            Item::Request { step, .. } => std::slice::from_mut(&mut **step).iter_mut(),
            Item::Flow(f) => f.steps.iter_mut(),
            Item::Comments(_) => [].iter_mut(),
        }))
    }
}
