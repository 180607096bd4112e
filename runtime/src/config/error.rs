//! What is wrong with a configuration: every problem at once, each at the TOML path of the
//! value at fault, so an operator fixes the file in one pass instead of one error per restart.

use std::fmt;

/// One thing wrong with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where: a TOML path like `tenants.acme.shops[1].plugin` (keys that are not bare TOML keys
    /// are quoted: `tenants."Acme Corp"`), `line 3, column 7` for a syntax error, or the file
    /// or setting that could not be read.
    pub path: String,
    /// What is wrong, and where it helps, what to write instead. Never contains a secret value.
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Every problem found in a configuration, in the order they were found: syntax errors by
/// position; otherwise the globals, then each tenant by id (its shops in file order, its ERP
/// route, schedule, carrier and status tables). Displays one per line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub problems: Vec<Problem>,
}

impl ConfigErrors {
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// A single problem, for failures that stop everything (the file cannot be read).
    pub(crate) fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigErrors { problems: vec![Problem::new(path, message)] }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// The problems found so far while reading a configuration.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(path, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_errors(self) -> ConfigErrors {
        ConfigErrors { problems: self.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_one_problem_per_line() {
        let errors = ConfigErrors {
            problems: vec![
                Problem::new("tenants.acme.shops[1].plugin", "no plugin named \"jdd\" (available: jd, taobao)"),
                Problem::new("tenants.acme", "exactly one of erp, webhook, pull (found none)"),
            ],
        };
        assert_eq!(
            errors.to_string(),
            "tenants.acme.shops[1].plugin: no plugin named \"jdd\" (available: jd, taobao)\n\
             tenants.acme: exactly one of erp, webhook, pull (found none)"
        );
    }

    #[test]
    fn a_problem_without_a_path_is_just_its_message() {
        assert_eq!(Problem::new("", "no file").to_string(), "no file");
    }
}
