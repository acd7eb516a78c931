//! Per-user data: a CSV file whose header names the columns (`{{user.<column>}}`), one row per
//! virtual user.
//!
//! Virtual users are split over the lanes (the cores of every shard) so that each user lives on
//! one core and its state (a captured token) needs no lock: lane `l` of `L` owns the users
//! `u` with `u mod L == l` and gives them to its arrivals round robin. With fewer users than
//! lanes, lane `l` shares user `l mod U` (each lane then logs that user in on its own).

/// The users file, parsed.
#[derive(Clone, Debug, Default)]
pub struct Users {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Box<[u8]>>>,
}

impl Users {
    /// Parses CSV text: a header line, then one line per user. Fields may be quoted
    /// (`"a,b"`, `""` for a quote). Errors name the line.
    pub fn parse(text: &str) -> Result<Users, String> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err("the users file is empty (it needs a header line naming the columns)".into());
        };
        let columns: Vec<String> = split(header).map_err(|e| format!("line 1: {e}"))?;
        for c in &columns {
            if !crate::template::is_identifier(c) {
                return Err(format!("line 1: column '{c}' is not a name (letters, digits, _)"));
            }
        }
        let mut rows = Vec::new();
        for (i, line) in lines {
            let fields = split(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            if fields.len() != columns.len() {
                return Err(format!("line {}: {} fields, the header has {}", i + 1, fields.len(), columns.len()));
            }
            rows.push(fields.into_iter().map(|f| f.into_bytes().into_boxed_slice()).collect());
        }
        if rows.is_empty() {
            return Err("the users file has a header but no users".into());
        }
        Ok(Users { columns, rows })
    }

    /// The users lane `lane` of `lanes` owns, by index.
    pub fn of_lane(&self, lane: usize, lanes: usize) -> Vec<usize> {
        lane_users(self.rows.len(), lane, lanes)
    }
}

/// The virtual users (of `n`) lane `lane` of `lanes` owns: `u mod lanes == lane`, or one shared
/// user when there are fewer users than lanes.
pub fn lane_users(n: usize, lane: usize, lanes: usize) -> Vec<usize> {
    if n < lanes.max(1) {
        return vec![lane % n.max(1)];
    }
    (lane..n).step_by(lanes.max(1)).collect()
}

/// Splits one CSV line into fields.
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unclosed quote".into());
    }
    fields.push(field);
    Ok(fields
        .into_iter()
        .map(|f| if f.starts_with(' ') || f.ends_with(' ') { f.trim().to_string() } else { f })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_rows_and_quotes() {
        let u = Users::parse("name,password,token\nann,p1,T1\n\"bo,b\",\"say \"\"hi\"\"\",T2\n").expect("valid");
        assert_eq!(u.columns, ["name", "password", "token"]);
        assert_eq!(u.rows.len(), 2);
        assert_eq!(&*u.rows[1][0], b"bo,b");
        assert_eq!(&*u.rows[1][1], b"say \"hi\"");
    }

    #[test]
    fn refuses_ragged_rows_and_empty_files() {
        assert!(Users::parse("a,b\n1\n").expect_err("ragged").contains("line 2: 1 fields"));
        assert!(Users::parse("").expect_err("empty").contains("empty"));
        assert!(Users::parse("a,b\n").expect_err("no rows").contains("no users"));
        assert!(Users::parse("a b\n1\n").expect_err("bad column").contains("not a name"));
    }

    #[test]
    fn lanes_split_users_without_overlap() {
        let u = Users {
            columns: vec!["a".into()],
            rows: (0..10).map(|i| vec![i.to_string().into_bytes().into()]).collect(),
        };
        let all: Vec<usize> = (0..3).flat_map(|l| u.of_lane(l, 3)).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        let few = Users { columns: vec!["a".into()], rows: vec![vec![b"x".as_slice().into()]] };
        assert_eq!(few.of_lane(3, 4), vec![0]);
    }
}
