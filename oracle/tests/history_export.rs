//! The history exports: EDN that an EDN reader accepts, one Jepsen-shaped map per line,
//! and JSON lines with the same structure.

use braid_oracle::history::{EventType, EventValue, History, Nemesis};
use braid_oracle::{Mop, Op, OpOutput, TxMode};

/// A tiny EDN reader: nil, booleans, integers, strings, keywords, vectors and maps.
#[derive(Debug, Clone, PartialEq)]
enum Edn {
    Nil,
    Bool(bool),
    Int(i128),
    Str(String),
    Keyword(String),
    Vector(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn skip_space(&mut self) {
        while self.at < self.text.len()
            && (self.text[self.at].is_ascii_whitespace() || self.text[self.at] == b',')
        {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn token(&mut self) -> String {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || b",[]{}\"".contains(&c) {
                break;
            }
            self.at += 1;
        }
        String::from_utf8(self.text[start..self.at].to_vec()).unwrap()
    }

    fn value(&mut self) -> Result<Edn, String> {
        self.skip_space();
        match self.peek().ok_or("unexpected end")? {
            b'[' => {
                self.at += 1;
                Ok(Edn::Vector(self.items(b']')?))
            }
            b'{' => {
                self.at += 1;
                let items = self.items(b'}')?;
                if items.len() % 2 != 0 {
                    return Err("a map needs pairs".into());
                }
                let pairs = items
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                Ok(Edn::Map(pairs))
            }
            b'"' => self.string(),
            b':' => {
                self.at += 1;
                let name = self.token();
                if name.is_empty() {
                    return Err("empty keyword".into());
                }
                Ok(Edn::Keyword(name))
            }
            _ => match self.token().as_str() {
                "nil" => Ok(Edn::Nil),
                "true" => Ok(Edn::Bool(true)),
                "false" => Ok(Edn::Bool(false)),
                number => number
                    .parse()
                    .map(Edn::Int)
                    .map_err(|_| format!("bad token {number:?}")),
            },
        }
    }

    fn items(&mut self, close: u8) -> Result<Vec<Edn>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok(items);
            }
            items.push(self.value()?);
        }
    }

    fn string(&mut self) -> Result<Edn, String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or("unterminated string")?;
            self.at += 1;
            match c {
                b'"' => return Ok(Edn::Str(out)),
                b'\\' => {
                    let escaped = self.peek().ok_or("dangling escape")?;
                    self.at += 1;
                    out.push(match escaped {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'"' => '"',
                        b'\\' => '\\',
                        other => return Err(format!("unknown escape {}", other as char)),
                    });
                }
                _ => out.push(c as char),
            }
        }
    }
}

/// Parses exactly one EDN value filling the whole line.
fn parse_line(line: &str) -> Result<Edn, String> {
    let mut reader = Reader {
        text: line.as_bytes(),
        at: 0,
    };
    let value = reader.value()?;
    reader.skip_space();
    if reader.at != line.len() {
        return Err(format!(
            "trailing text after the value: {:?}",
            &line[reader.at..]
        ));
    }
    Ok(value)
}

fn get<'a>(map: &'a Edn, key: &str) -> &'a Edn {
    let Edn::Map(pairs) = map else {
        panic!("not a map: {map:?}")
    };
    &pairs
        .iter()
        .find(|(k, _)| *k == Edn::Keyword(key.into()))
        .unwrap_or_else(|| panic!("no :{key} in {map:?}"))
        .1
}

fn kw(name: &str) -> Edn {
    Edn::Keyword(name.into())
}

fn list_append_history() -> History {
    let mut history = History::new();
    let txn = vec![
        Mop::Append { key: 3, element: 4 },
        Mop::Read { key: 3, list: None },
    ];
    let done = vec![
        Mop::Append { key: 3, element: 4 },
        Mop::Read {
            key: 3,
            list: Some(vec![1, 4]),
        },
    ];
    history.invoke(12, 1, EventValue::Txn(txn.clone()));
    history.complete(15, 1, EventType::Ok, EventValue::Txn(done), None);
    history.invoke(16, 2, EventValue::Txn(txn.clone()));
    history.nemesis(
        17,
        Nemesis::Fault {
            label: "commit-frames \"sync\"".into(),
        },
    );
    history.crash(18);
    history.nemesis(19, Nemesis::Restart { recovered_seq: 7 });
    history.invoke(
        20,
        3,
        EventValue::Txn(vec![Mop::Read { key: 3, list: None }]),
    );
    history.complete(
        21,
        3,
        EventType::Fail,
        EventValue::Txn(vec![Mop::Read { key: 3, list: None }]),
        Some("Busy".into()),
    );
    history
}

#[test]
fn list_append_history_is_edn_one_map_per_line() {
    let text = list_append_history().to_edn();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9, "{text}");
    assert_eq!(
        lines[0],
        "{:index 0, :time 12, :type :invoke, :process 1, :f :txn, :value [[:append 3 4] [:r 3 nil]]}"
    );
    for (i, line) in lines.iter().enumerate() {
        let map = parse_line(line).unwrap_or_else(|e| panic!("line {i} is not EDN ({e}): {line}"));
        let Edn::Map(pairs) = &map else {
            panic!("line {i} is not a map")
        };
        let keys: Vec<&Edn> = pairs.iter().map(|(k, _)| k).take(6).collect();
        let expected = ["index", "time", "type", "process", "f", "value"].map(kw);
        assert_eq!(keys, expected.iter().collect::<Vec<_>>(), "line {i}");
        assert_eq!(get(&map, "index"), &Edn::Int(i as i128));
        assert!(matches!(get(&map, "time"), Edn::Int(_)));
        let kind = get(&map, "type");
        assert!(
            ["invoke", "ok", "fail", "info"].map(kw).contains(kind),
            "line {i}: {kind:?}"
        );
        assert!(
            matches!(get(&map, "process"), Edn::Int(_)) || get(&map, "process") == &kw("nemesis")
        );
        assert!(matches!(get(&map, "f"), Edn::Keyword(_)));
    }
    let ok = parse_line(lines[1]).unwrap();
    let read = Edn::Vector(vec![
        kw("r"),
        Edn::Int(3),
        Edn::Vector(vec![Edn::Int(1), Edn::Int(4)]),
    ]);
    assert_eq!(
        get(&ok, "value"),
        &Edn::Vector(vec![
            Edn::Vector(vec![kw("append"), Edn::Int(3), Edn::Int(4)]),
            read
        ])
    );
    // The crash ends process 2's open transaction as :info before the crash event.
    let cut = parse_line(lines[4]).unwrap();
    assert_eq!(
        (get(&cut, "type"), get(&cut, "process")),
        (&kw("info"), &Edn::Int(2))
    );
    let crash = parse_line(lines[5]).unwrap();
    assert_eq!(
        (get(&crash, "f"), get(&crash, "process")),
        (&kw("crash"), &kw("nemesis"))
    );
    let fault = parse_line(lines[3]).unwrap();
    assert_eq!(
        get(&fault, "value"),
        &Edn::Str("commit-frames \"sync\"".into())
    );
}

#[test]
fn key_value_ops_export_with_text_or_byte_keys() {
    let mut history = History::new();
    let put = Op::Put(b"k1".to_vec(), vec![0, 255]);
    history.invoke_op(1, 1, &Op::Begin(TxMode::Immediate));
    history.complete_op(
        2,
        1,
        &Op::Begin(TxMode::Immediate),
        &Ok(OpOutput::Done),
        false,
    );
    history.invoke_op(3, 1, &put);
    history.complete_op(4, 1, &put, &Ok(OpOutput::Done), false);
    let scan = Op::Scan {
        start: b"a".to_vec(),
        end: None,
        limit: 5,
    };
    history.invoke_op(5, 1, &scan);
    let rows = Ok(OpOutput::Rows(vec![(b"k1".to_vec(), vec![0, 255])]));
    history.complete_op(6, 1, &scan, &rows, false);
    history.invoke_op(7, 1, &Op::Commit);
    history.complete_op(
        8,
        1,
        &Op::Commit,
        &Ok(OpOutput::Committed { seq: 9 }),
        false,
    );
    let text = history.to_edn();
    let maps: Vec<Edn> = text.lines().map(|l| parse_line(l).unwrap()).collect();
    assert_eq!(get(&maps[0], "value"), &kw("immediate"));
    assert_eq!(get(&maps[2], "f"), &kw("put"));
    let put_value = Edn::Vector(vec![
        Edn::Str("k1".into()),
        Edn::Vector(vec![Edn::Int(0), Edn::Int(255)]),
    ]);
    assert_eq!(get(&maps[2], "value"), &put_value);
    let scanned = get(&maps[5], "value");
    assert_eq!(get(scanned, "limit"), &Edn::Int(5));
    assert_eq!(get(scanned, "end"), &Edn::Nil);
    assert_eq!(get(scanned, "rows"), &Edn::Vector(vec![put_value]));
    assert_eq!(get(get(&maps[7], "value"), "seq"), &Edn::Int(9));
}

#[test]
fn json_lines_carry_the_same_events() {
    let history = list_append_history();
    let lines: Vec<serde_json::Value> = history
        .to_jsonl()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(lines[0]["type"], "invoke");
    assert_eq!(lines[0]["process"], 1);
    assert_eq!(
        lines[0]["value"],
        serde_json::json!([["append", 3, 4], ["r", 3, null]])
    );
    assert_eq!(lines[6]["value"]["recovered-seq"], 7);
    assert_eq!(lines[8]["error"], "Busy");
}

#[test]
fn the_test_reader_rejects_broken_edn() {
    assert!(parse_line("{:a 1").is_err());
    assert!(parse_line("{:a}").is_err());
    assert!(parse_line("[1 2] 3").is_err());
    assert!(parse_line("\"open").is_err());
}
