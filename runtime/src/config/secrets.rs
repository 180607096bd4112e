//! Secrets: how the configuration names them, where their values come from, and types that
//! never print them.
//!
//! The main TOML file holds only references, `env:NAME` (an environment variable) or
//! `file:KEY` (a key of the secrets file). The main file is the one that gets pasted into
//! tickets, diffed in reviews and committed; a value written there is a leak, so a literal is
//! refused rather than accepted with a warning. The secrets file is a separate flat table of
//! name → string, TOML or JSON, whose path comes from `WHARF_SECRETS` or `secrets_file`.
//!
//! Nothing here puts a secret value in a message: errors name the variable or the key, and
//! syntax errors in the secrets file give a line and column, never the line's text.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::document::line_and_column;

/// Prefix of a reference to an environment variable.
pub const ENV_PREFIX: &str = "env:";
/// Prefix of a reference to a key of the secrets file.
pub const FILE_PREFIX: &str = "file:";

/// Where one secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretRef {
    /// `env:NAME`: the environment variable `NAME`.
    Env(String),
    /// `file:KEY`: the key `KEY` of the secrets file.
    File(String),
}

impl SecretRef {
    /// Reads a reference. The error never repeats `text`: when it is not a reference, it is
    /// most likely the secret itself.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        if let Some(name) = text.strip_prefix(ENV_PREFIX) {
            return if is_env_name(name) {
                Ok(SecretRef::Env(name.to_owned()))
            } else {
                Err(format!(
                    "\"{ENV_PREFIX}\" must be followed by an environment variable name (ASCII letters, digits and '_', not starting with a digit), like {ENV_PREFIX}WHARF_TB_SESSION"
                ))
            };
        }
        if let Some(key) = text.strip_prefix(FILE_PREFIX) {
            return if !key.is_empty() && key.trim() == key {
                Ok(SecretRef::File(key.to_owned()))
            } else {
                Err(format!(
                    "\"{FILE_PREFIX}\" must be followed by a key of the secrets file, without surrounding spaces, like {FILE_PREFIX}acme_tb_session"
                ))
            };
        }
        if text.is_empty() {
            Err(format!("empty; write \"{ENV_PREFIX}NAME\" or \"{FILE_PREFIX}KEY\""))
        } else {
            Err(format!("literal secret; write \"{ENV_PREFIX}NAME\" or \"{FILE_PREFIX}KEY\""))
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "{ENV_PREFIX}{name}"),
            SecretRef::File(key) => write!(f, "{FILE_PREFIX}{key}"),
        }
    }
}

/// POSIX's portable environment variable names.
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One secret value. `Debug` shows `<redacted>`; the value is only reachable through
/// [`Secret::expose`], so every place that reads it is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The resolved secrets of one shop (or ERP route): the plugin's secret name → value. `Debug`
/// lists the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretMap(BTreeMap<String, Secret>);

impl SecretMap {
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.0.iter().map(|(name, secret)| (name.as_str(), secret))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every value in the clear, for the one place that needs them (the host's credential
    /// capability, which keeps them out of the sandbox).
    pub fn expose_all(&self) -> BTreeMap<String, String> {
        self.0.iter().map(|(name, secret)| (name.clone(), secret.0.clone())).collect()
    }

    pub(crate) fn insert(&mut self, name: String, secret: Secret) {
        self.0.insert(name, secret);
    }
}

impl FromIterator<(String, Secret)> for SecretMap {
    fn from_iter<I: IntoIterator<Item = (String, Secret)>>(iter: I) -> Self {
        SecretMap(iter.into_iter().collect())
    }
}

impl fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// How a secrets file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretsFormat {
    Toml,
    Json,
}

impl SecretsFormat {
    /// JSON for a `.json` file (what `wharf plugin call --secrets` takes), TOML otherwise.
    pub fn of(path: &Path) -> Self {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("json") => SecretsFormat::Json,
            _ => SecretsFormat::Toml,
        }
    }
}

/// The secrets file: a flat table of key → string value. `Debug` lists the keys only.
#[derive(Clone)]
pub struct SecretsFile {
    path: PathBuf,
    values: BTreeMap<String, Secret>,
}

impl fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsFile").field("path", &self.path).field("keys", &self.values.keys()).finish()
    }
}

impl SecretsFile {
    /// Reads and parses the file at `path`, in the format its extension says. Each error is
    /// one message; none contains a value.
    pub fn read(path: &Path) -> Result<Self, Vec<String>> {
        let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
        Self::parse(&text, SecretsFormat::of(path), path)
    }

    /// Parses the text of a secrets file; `path` is only named in messages.
    pub fn parse(text: &str, format: SecretsFormat, path: &Path) -> Result<Self, Vec<String>> {
        let shown = path.display();
        let mut values = BTreeMap::new();
        let mut errors = Vec::new();
        match format {
            SecretsFormat::Toml => {
                // `message()`, not `Display`: toml's Display quotes the offending line.
                let table = toml::from_str::<toml::Table>(text).map_err(|e| {
                    let at = e.span().map(|s| format!(" at {}", line_and_column(text, s.start))).unwrap_or_default();
                    vec![format!("{shown} is not valid TOML{at}: {}", e.message().trim_end())]
                })?;
                for (key, value) in table {
                    match value {
                        toml::Value::String(s) => {
                            values.insert(key, Secret(s));
                        }
                        other => {
                            errors.push(format!("{shown}: key {key:?}: expected a string, found {}", other.type_str()))
                        }
                    }
                }
            }
            SecretsFormat::Json => {
                // Parsed as any value first: serde_json's type errors quote the value, its
                // syntax errors do not.
                let value = serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
                    vec![format!(
                        "{shown} is not valid JSON at line {}, column {}: {}",
                        e.line(),
                        e.column(),
                        json_reason(&e)
                    )]
                })?;
                let serde_json::Value::Object(object) = value else {
                    return Err(vec![format!("{shown}: expected a JSON object of name → string")]);
                };
                for (key, value) in object {
                    match value {
                        serde_json::Value::String(s) => {
                            values.insert(key, Secret(s));
                        }
                        other => {
                            errors.push(format!("{shown}: key {key:?}: expected a string, found {}", json_type(&other)))
                        }
                    }
                }
            }
        }
        if errors.is_empty() { Ok(SecretsFile { path: path.to_owned(), values }) } else { Err(errors) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.values.get(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// serde_json's syntax error without its trailing position (given separately).
fn json_reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The secrets file as far as resolution is concerned.
pub(crate) enum SecretsSource {
    /// No file was named; `file:` references cannot be resolved.
    None,
    Loaded(SecretsFile),
    /// A file was named but could not be used; that was reported once already, so the
    /// references into it are not reported again.
    Broken,
}

/// Resolves references against the environment and the secrets file.
pub(crate) struct Resolver<'a> {
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) file: SecretsSource,
}

impl Resolver<'_> {
    /// The value of `reference`. `Err(None)`: it points into a secrets file that was already
    /// reported as unusable.
    pub(crate) fn resolve(&self, reference: &SecretRef) -> Result<Secret, Option<String>> {
        match reference {
            SecretRef::Env(name) => match (self.env)(name) {
                None => Err(Some(format!("env var {name} is not set"))),
                Some(value) if value.is_empty() => Err(Some(format!("env var {name} is set but empty"))),
                Some(value) => Ok(Secret(value)),
            },
            SecretRef::File(key) => match &self.file {
                SecretsSource::None => Err(Some(format!(
                    "\"{reference}\" needs a secrets file; name one with {} or secrets_file",
                    super::SECRETS_ENV
                ))),
                SecretsSource::Broken => Err(None),
                SecretsSource::Loaded(file) => match file.get(key) {
                    None => Err(Some(format!("no key {key:?} in secrets file {}", file.path().display()))),
                    Some(value) if value.0.is_empty() => {
                        Err(Some(format!("key {key:?} in secrets file {} is empty", file.path().display())))
                    }
                    Some(value) => Ok(value.clone()),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(SecretRef::parse("env:WHARF_TB_SESSION"), Ok(SecretRef::Env("WHARF_TB_SESSION".into())));
        assert_eq!(SecretRef::parse("file:acme.tb session"), Ok(SecretRef::File("acme.tb session".into())));
        assert_eq!(SecretRef::parse("env:_x1").unwrap().to_string(), "env:_x1");
        assert_eq!(SecretRef::parse("file:k").unwrap().to_string(), "file:k");
    }

    #[test]
    fn a_literal_is_refused_without_being_repeated() {
        let error = SecretRef::parse("s3cr3t-value").unwrap_err();
        assert_eq!(error, "literal secret; write \"env:NAME\" or \"file:KEY\"");
        assert!(!error.contains("s3cr3t"));
        assert_eq!(SecretRef::parse("").unwrap_err(), "empty; write \"env:NAME\" or \"file:KEY\"");
        // Prefixes are exact: anything else is treated as a value.
        assert!(SecretRef::parse("ENV:X").unwrap_err().starts_with("literal secret"));
    }

    #[test]
    fn bad_references_say_what_is_expected() {
        for bad in ["env:", "env:1X", "env:A-B", "env:A B"] {
            assert!(
                SecretRef::parse(bad)
                    .unwrap_err()
                    .starts_with("\"env:\" must be followed by an environment variable name"),
                "{bad}"
            );
        }
        for bad in ["file:", "file: k", "file:k "] {
            assert!(SecretRef::parse(bad).unwrap_err().starts_with("\"file:\" must be followed by a key"), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_values() {
        let mut map = SecretMap::default();
        map.insert("app_secret".into(), Secret::new("hunter2"));
        map.insert("session".into(), Secret::new("tok-777"));
        let shown = format!("{map:?} {:?}", Secret::new("hunter2"));
        assert_eq!(shown, "{\"app_secret\", \"session\"} <redacted>");
        assert_eq!(map.get("app_secret").unwrap().expose(), "hunter2");
        assert_eq!(map.expose_all()["session"], "tok-777");
        let file = SecretsFile::parse("a = \"hunter2\"", SecretsFormat::Toml, Path::new("s.toml")).unwrap();
        assert!(!format!("{file:?}").contains("hunter2"));
    }

    #[test]
    fn secrets_files_parse_in_both_formats() {
        let toml =
            SecretsFile::parse("acme_tb = \"x\"\n\"with space\" = \"y\"\n", SecretsFormat::Toml, Path::new("s.toml"))
                .unwrap();
        assert_eq!(toml.keys().collect::<Vec<_>>(), ["acme_tb", "with space"]);
        assert_eq!(toml.get("with space").unwrap().expose(), "y");
        let json = SecretsFile::parse(r#"{"acme_tb": "x"}"#, SecretsFormat::Json, Path::new("s.json")).unwrap();
        assert_eq!(json.get("acme_tb").unwrap().expose(), "x");
        assert_eq!(SecretsFormat::of(Path::new("/etc/wharf/s.JSON")), SecretsFormat::Json);
        assert_eq!(SecretsFormat::of(Path::new("/etc/wharf/s")), SecretsFormat::Toml);
    }

    #[test]
    fn secrets_file_errors_name_keys_and_positions_but_no_values() {
        let errors =
            SecretsFile::parse("a = 1\nb = \"ok\"\n[c]\nd = \"hunter2\"\n", SecretsFormat::Toml, Path::new("s.toml"))
                .unwrap_err();
        assert_eq!(
            errors,
            [
                "s.toml: key \"a\": expected a string, found integer",
                "s.toml: key \"c\": expected a string, found table"
            ]
        );

        let errors = SecretsFile::parse("a = \"hunter2\n", SecretsFormat::Toml, Path::new("s.toml")).unwrap_err();
        assert!(errors[0].starts_with("s.toml is not valid TOML at line 1"), "{errors:?}");
        assert!(!errors[0].contains("hunter2"), "{errors:?}");

        let errors =
            SecretsFile::parse("{\"a\": \"hunter2\", \"b\": 2}", SecretsFormat::Json, Path::new("s.json")).unwrap_err();
        assert_eq!(errors, ["s.json: key \"b\": expected a string, found number"]);
        let errors = SecretsFile::parse("\"hunter2\"", SecretsFormat::Json, Path::new("s.json")).unwrap_err();
        assert_eq!(errors, ["s.json: expected a JSON object of name → string"]);
        let errors = SecretsFile::parse("{\"a\": \"hunter2\",", SecretsFormat::Json, Path::new("s.json")).unwrap_err();
        assert!(errors[0].starts_with("s.json is not valid JSON at line 1, column 16: "), "{errors:?}");
        assert!(!errors[0].contains("hunter2"));
    }

    #[test]
    fn resolution_names_what_is_missing() {
        let env = |name: &str| match name {
            "SET" => Some("v".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let file = SecretsFile::parse("k = \"fv\"\nblank = \"\"", SecretsFormat::Toml, Path::new("s.toml")).unwrap();
        let resolver = Resolver { env: &env, file: SecretsSource::Loaded(file) };
        let resolve = |r: &str| resolver.resolve(&SecretRef::parse(r).unwrap()).map(|s| s.expose().to_owned());
        assert_eq!(resolve("env:SET"), Ok("v".into()));
        assert_eq!(resolve("env:NOPE"), Err(Some("env var NOPE is not set".into())));
        assert_eq!(resolve("env:EMPTY"), Err(Some("env var EMPTY is set but empty".into())));
        assert_eq!(resolve("file:k"), Ok("fv".into()));
        assert_eq!(resolve("file:x"), Err(Some("no key \"x\" in secrets file s.toml".into())));
        assert_eq!(resolve("file:blank"), Err(Some("key \"blank\" in secrets file s.toml is empty".into())));

        let resolver = Resolver { env: &env, file: SecretsSource::None };
        assert_eq!(
            resolver.resolve(&SecretRef::File("k".into())).unwrap_err(),
            Some("\"file:k\" needs a secrets file; name one with WHARF_SECRETS or secrets_file".into())
        );
        let resolver = Resolver { env: &env, file: SecretsSource::Broken };
        assert_eq!(resolver.resolve(&SecretRef::File("k".into())).unwrap_err(), None);
    }
}
