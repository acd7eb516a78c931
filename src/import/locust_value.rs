//! What a Python expression of a Locust file stands for, statically: a constant, a blast
//! template (`{{token}}`, `{{i}}`), random bytes to send, a value of an earlier response (to be
//! captured), a users-file row, or something blast cannot reproduce (with the reason).

/// A value, as far as it is known without running the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<Val>),
    /// A dict with string keys, in order.
    Dict(Vec<(String, Val)>),
    /// A template that renders as text: `{{token}}`, `Bearer {{token}}`, `{{uuid}}`.
    Tmpl(String),
    /// A single placeholder that renders as a number: `{{i}}`, `{{random_int 1 9}}`.
    Num(String),
    /// Random bytes of this size (`os.urandom(N)`).
    Bytes(u64),
    /// The slice of a `Bytes` value that a chunk loop sends (`data[i*C:(i+1)*C]`): total, chunk.
    Chunk(u64, u64),
    /// The SHA-256 hex digest of the chunk bytes sent (`hashlib.sha256(data).hexdigest()`).
    Sha,
    /// A hash object being fed (`hashlib.sha256()`), `.hexdigest()` gives `Sha`.
    Hasher,
    /// The response of the step with this index.
    Resp(usize),
    /// A value in a response: step index and capture source (`/id`, `header:Location`).
    Field(usize, String),
    /// Random text of this length, before `"".join(...)`.
    RandChars(u64),
    /// `json.dumps(...)` of a dict or a list: its `json = ...` value (TOML, inline).
    JsonDoc(String),
    /// `time.time()` times this factor.
    Time(f64),
    /// A file opened for reading (`open(path)`).
    File(String),
    /// The rows of a CSV users file.
    Users(String),
    /// One row of the users file.
    UserRow,
    /// A module or a name that only matters when called (`random`, `self.client`).
    Name(String),
    /// Cannot be known statically: the reason.
    Unknown(String),
}

impl Val {
    /// The value as a template's text, if it renders as text at all.
    pub fn text(&self) -> Result<String, String> {
        match self {
            Val::Str(s) => Ok(s.clone()),
            Val::Int(n) => Ok(n.to_string()),
            Val::Float(x) => Ok(py_float(*x)),
            Val::Bool(b) => Ok(if *b { "True" } else { "False" }.into()),
            Val::None => Ok("None".into()),
            Val::Tmpl(t) | Val::Num(t) => Ok(t.clone()),
            Val::Sha => Ok("{{sent_sha256}}".into()),
            Val::Unknown(why) => Err(why.clone()),
            Val::Time(_) => Err(TIME_AS_FLOAT.into()),
            other => Err(format!("{} cannot be written into a request", other.kind())),
        }
    }

    /// `int(...)` or `math.floor(...)` (`rounded`: `round(...)`) of this value, when it is a
    /// clock reading (`time.time()` times 1, 1000 or 1e6): the send-time placeholder of that
    /// unit, truncated (`{{now_s}}`, ...) or rounded to the nearest unit (`{{now_s_round}}`, ...).
    pub fn whole_time(&self, rounded: bool) -> Option<Val> {
        let Val::Time(k) = self else { return None };
        let unit = [(1.0, "now_s"), (1000.0, "now_ms"), (1_000_000.0, "now_us")]
            .into_iter()
            .find(|(f, _)| (k - f).abs() < 1e-9 * f)?;
        Some(Val::Num(format!("{{{{{}{}}}}}", unit.1, if rounded { "_round" } else { "" })))
    }

    /// The value as a `json = {...}` value, written inline in the dict's order: strings are
    /// templates, `{{=...}}` renders a number.
    pub fn json(&self) -> Result<String, String> {
        use super::toml_out::{key, quote};
        Ok(match self {
            Val::Str(s) | Val::Tmpl(s) => quote(s),
            Val::Int(n) => n.to_string(),
            Val::Float(x) if x.is_finite() => super::toml_out::value(&toml::Value::Float(*x)),
            Val::Bool(b) => b.to_string(),
            Val::Sha => quote("{{sent_sha256}}"),
            Val::Time(_) => return Err(TIME_AS_FLOAT.into()),
            Val::Num(t) => quote(&t.replacen("{{", "{{=", 1)),
            Val::List(items) => format!("[{}]", items.iter().map(Val::json).collect::<Result<Vec<_>, _>>()?.join(", ")),
            Val::Dict(pairs) if pairs.is_empty() => "{}".into(),
            Val::Dict(pairs) => {
                let mut items = Vec::new();
                for (k, v) in pairs {
                    items.push(format!("{} = {}", key(k), v.json().map_err(|e| format!("{k}: {e}"))?));
                }
                format!("{{ {} }}", items.join(", "))
            }
            Val::None => return Err("None (JSON null) has no TOML form in json = {...}".into()),
            Val::Unknown(why) => return Err(why.clone()),
            other => return Err(format!("{} cannot be a JSON value", other.kind())),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) | Val::Float(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::None => "None",
            Val::List(_) => "a list",
            Val::Dict(_) => "a dict",
            Val::Tmpl(_) | Val::Num(_) => "a template",
            Val::Bytes(_) | Val::Chunk(..) => "bytes",
            Val::Sha => "a SHA-256",
            Val::Hasher => "a hash object",
            Val::Resp(_) => "a response",
            Val::Field(..) => "a response value",
            Val::RandChars(_) => "random characters",
            Val::Time(_) => "a time",
            Val::JsonDoc(_) => "a JSON text",
            Val::File(_) => "a file",
            Val::Users(_) => "a users list",
            Val::UserRow => "a user row",
            Val::Name(_) => "a module",
            Val::Unknown(_) => "an unknown value",
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Val::Int(n) => Some(*n),
            Val::Bool(b) => Some(i64::from(*b)),
            Val::Float(x) if x.fract() == 0.0 && x.abs() < 9e15 => Some(*x as i64),
            _ => None,
        }
    }

    pub fn float(&self) -> Option<f64> {
        match self {
            Val::Int(n) => Some(*n as f64),
            Val::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// Python truth of a known value.
    pub fn truth(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            Val::Int(n) => Some(*n != 0),
            Val::Float(x) => Some(*x != 0.0),
            Val::Str(s) => Some(!s.is_empty()),
            Val::None => Some(false),
            Val::List(v) => Some(!v.is_empty()),
            Val::Dict(v) => Some(!v.is_empty()),
            _ => None,
        }
    }
}

/// Why a bare `time.time()` (a float of seconds) is not written into a request.
const TIME_AS_FLOAT: &str =
    "time.time() as a float: blast's clocks are whole numbers ({{now_s}}, {{now_ms}}, {{now_us}}: int(time.time()), int(time.time() * 1000), ...)";

/// Python's `str()` of a float.
fn py_float(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        x.to_string()
    }
}

/// A JSON pointer token (`~` and `/` escaped).
pub fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Python's `%` formatting of `fmt` with `args` (`%s`, `%d`, `%i`, `%r`, `%%`).
pub fn percent_format(fmt: &str, args: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'd' | 'i' | 'r') => out.push_str(&it.next().ok_or("too few values for %")?.text()?),
            other => return Err(format!("the format %{} is not translated", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

/// `str.format`: `{}`, `{0}`, `{name}`, `{{`/`}}`; no format specs.
pub fn brace_format(fmt: &str, args: &[Val], named: &[(String, Val)]) -> Result<String, String> {
    let mut out = String::new();
    let mut next = 0;
    let mut rest = fmt;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a single '}' in a format string".into());
        }
        let end = tail.find('}').ok_or("an unclosed '{' in a format string")?;
        let field = &tail[1..end];
        if field.contains([':', '!', '.', '[']) {
            return Err(format!("the format field {{{field}}} is not translated"));
        }
        let v = if field.is_empty() {
            next += 1;
            args.get(next - 1)
        } else if let Ok(n) = field.parse::<usize>() {
            args.get(n)
        } else {
            named.iter().find(|(k, _)| k == field).map(|(_, v)| v)
        };
        out.push_str(&v.ok_or_else(|| format!("no value for {{{field}}}"))?.text()?);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_render_templates() {
        let id = Val::Tmpl("{{id}}".into());
        assert_eq!(percent_format("/a/%s/b/%d%%", &[id.clone(), Val::Int(3)]).as_deref(), Ok("/a/{{id}}/b/3%"));
        assert_eq!(
            brace_format("/a/{}/{n}/{{x}}", std::slice::from_ref(&id), &[("n".into(), Val::Num("{{i}}".into()))])
                .as_deref(),
            Ok("/a/{{id}}/{{i}}/{x}")
        );
        assert!(brace_format("{:05d}", &[Val::Int(1)], &[]).is_err());
        assert!(percent_format("%s", &[Val::Resp(0)]).is_err());
    }

    #[test]
    fn whole_clock_readings_become_send_time_placeholders() {
        let num = |t: &str| Some(Val::Num(t.into()));
        assert_eq!(Val::Time(1.0).whole_time(false), num("{{now_s}}"));
        assert_eq!(Val::Time(1000.0).whole_time(false), num("{{now_ms}}"));
        assert_eq!(Val::Time(1e6).whole_time(false), num("{{now_us}}"));
        // round(): to the nearest unit, as Python's
        assert_eq!(Val::Time(1.0).whole_time(true), num("{{now_s_round}}"));
        assert_eq!(Val::Time(1000.0).whole_time(true), num("{{now_ms_round}}"));
        assert_eq!(Val::Time(1e6).whole_time(true), num("{{now_us_round}}"));
        // other scales (minutes, tenths) and other values are not clock readings blast has
        assert_eq!(Val::Time(1.0 / 60.0).whole_time(true), None);
        assert_eq!(Val::Time(10.0).whole_time(false), None);
        assert_eq!(Val::Float(1.7e9).whole_time(false), None);
        // a bare time.time() is a float: listed with the way to write it
        let why = Val::Time(1.0).text().expect_err("a float of seconds");
        assert!(why.contains("int(time.time())"), "{why}");
        assert!(Val::Dict(vec![("ts".into(), Val::Time(1.0))]).json().expect_err("float").contains("{{now_s}}"));
    }

    #[test]
    fn json_values_keep_their_type_and_order() {
        let v = Val::Dict(vec![
            ("n".into(), Val::Int(3)),
            ("i".into(), Val::Num("{{i}}".into())),
            ("s".into(), Val::Tmpl("{{user.name}}".into())),
            ("a b".into(), Val::List(vec![Val::Bool(true), Val::Float(0.5)])),
        ]);
        let text = v.json().expect("json");
        assert_eq!(text, r#"{ n = 3, i = "{{=i}}", s = "{{user.name}}", "a b" = [true, 0.5] }"#);
        let t: toml::Table = toml::from_str(&format!("v = {text}")).expect("valid TOML");
        assert_eq!(t["v"]["i"].as_str(), Some("{{=i}}"));
        assert!(Val::None.json().is_err());
    }
}
