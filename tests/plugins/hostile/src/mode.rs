//! The misbehaviours `pull-orders` can be told to perform, by the config key `mode`.

use crate::wharf::connector::types::ConnectorError;

/// One misbehaviour, named as the config value spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Spin forever: the host's deadline must interrupt it.
    Loop,
    /// Allocate and touch 1 MiB chunks up to 1 GiB: the host's memory cap must stop it.
    Memory,
    /// Recurse without end: the wasm stack limit must stop it.
    Recursion,
    /// GET a host the plugin never declared: the host must deny it.
    UndeclaredHost,
    /// Read environment, arguments, files and sockets: the host must give none of them.
    Env,
    /// Try every way to the bytes of secret `app_secret`, then scan linear memory for them.
    SecretBytes,
    /// Return a 100 MB cursor: more than the memory cap, so building it must fail.
    HugeOutput,
    /// Return a 20 MB cursor: fits in memory, so the host's output-size cap must stop it.
    BigOutput,
    /// Panic, which traps.
    Panic,
    /// Behave: an empty page, to show the host still serves good calls afterwards.
    Ok,
    /// Records and logs the host must refuse or tame (see `poison`).
    PoisonInstant,
    PoisonId,
    PoisonMoney,
    PoisonDuplicate,
    LogFlood,
    LogForge,
    FakePanic,
    /// Ask the host to fill 28 MiB of placeholders (see `secret_attack`).
    PlaceholderFlood,
    /// Have every encoding of an echoed secret sent back (see `secret_attack`).
    EchoEncodings,
    /// Fill a secret into a request to a granted host it is not bound to (see `secret_attack`).
    SecretElsewhere,
    /// Behave, making `calls` HTTP requests first: a yardstick for benchmarks (see `measure`).
    HostCalls,
}

impl Mode {
    /// Every mode with its config spelling.
    pub const ALL: [(&'static str, Mode); 21] = [
        ("loop", Mode::Loop),
        ("memory", Mode::Memory),
        ("recursion", Mode::Recursion),
        ("undeclared-host", Mode::UndeclaredHost),
        ("env", Mode::Env),
        ("secret-bytes", Mode::SecretBytes),
        ("huge-output", Mode::HugeOutput),
        ("big-output", Mode::BigOutput),
        ("panic", Mode::Panic),
        ("ok", Mode::Ok),
        ("poison-instant", Mode::PoisonInstant),
        ("poison-id", Mode::PoisonId),
        ("poison-money", Mode::PoisonMoney),
        ("poison-duplicate", Mode::PoisonDuplicate),
        ("log-flood", Mode::LogFlood),
        ("log-forge", Mode::LogForge),
        ("fake-panic", Mode::FakePanic),
        ("placeholder-flood", Mode::PlaceholderFlood),
        ("echo-encodings", Mode::EchoEncodings),
        ("secret-elsewhere", Mode::SecretElsewhere),
        ("host-calls", Mode::HostCalls),
    ];

    /// The mode the calling shop's config asks for.
    pub fn from_config() -> Result<Mode, ConnectorError> {
        let value = crate::required_config("mode", &Self::expected())?;
        Self::parse(&value)
    }

    fn parse(value: &str) -> Result<Mode, ConnectorError> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, mode)| *mode)
            .ok_or_else(|| crate::invalid_input("mode", format!("expected {}, got `{value}`", Self::expected())))
    }

    fn expected() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|(name, _)| *name).collect();
        format!("one of {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_to_its_mode() {
        for (name, mode) in Mode::ALL {
            assert_eq!(Mode::parse(name).unwrap(), mode);
        }
    }

    #[test]
    fn an_unknown_mode_names_the_field_and_the_choices() {
        match Mode::parse("explode") {
            Err(ConnectorError::InvalidInput(error)) => {
                assert_eq!(error.field, "mode");
                assert!(error.reason.contains("secret-bytes"), "{}", error.reason);
                assert!(error.reason.contains("`explode`"), "{}", error.reason);
            }
            other => panic!("expected invalid-input, got {other:?}"),
        }
    }
}
