//! The command line's names for the engine's enums: the engine's types carry no clap derive,
//! so each has its mirror here, with the words `--help` shows for every value.

use clap::ValueEnum;
use clap::builder::{EnumValueParser, MapValueParser, TypedValueParser};

use crate::azure::AuthMethod;
use crate::roles::Role;

/// `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Incident commander: everything an operator does, and approves two-person steps run by
    /// someone else
    Commander,
    /// Carries out steps: starts, answers, skips, retries, aborts
    Operator,
    /// Keeps the record: writes notes, changes nothing
    Scribe,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Commander => Role::Commander,
            RoleArg::Operator => Role::Operator,
            RoleArg::Scribe => Role::Scribe,
        }
    }
}

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// Developer tools: the Azure CLI login (`az login`), then the Azure Developer CLI.
    Cli,
    /// The managed identity of the VM, container or App Service drbook runs on.
    ManagedIdentity,
    /// Workload identity federation (AKS, GitHub Actions): AZURE_TENANT_ID, AZURE_CLIENT_ID,
    /// AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
    /// A service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    ServicePrincipal,
    /// The drbook simulator's token endpoint (`POST {endpoint}/sim/token`).
    Sim,
}

impl From<AuthArg> for AuthMethod {
    fn from(a: AuthArg) -> AuthMethod {
        match a {
            AuthArg::Cli => AuthMethod::Cli,
            AuthArg::ManagedIdentity => AuthMethod::ManagedIdentity,
            AuthArg::WorkloadIdentity => AuthMethod::WorkloadIdentity,
            AuthArg::ServicePrincipal => AuthMethod::ServicePrincipal,
            AuthArg::Sim => AuthMethod::Sim,
        }
    }
}

/// Parses `--role` into the engine's `Role`, listing the values as `--help` always has.
pub fn role() -> MapValueParser<EnumValueParser<RoleArg>, fn(RoleArg) -> Role> {
    EnumValueParser::<RoleArg>::new().map(Role::from as fn(RoleArg) -> Role)
}

/// Parses `--auth` into the engine's `AuthMethod`.
pub fn auth() -> MapValueParser<EnumValueParser<AuthArg>, fn(AuthArg) -> AuthMethod> {
    EnumValueParser::<AuthArg>::new().map(AuthMethod::from as fn(AuthArg) -> AuthMethod)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value the command line accepts names the engine's value of the same name, so the
    /// mirrors cannot drift from the types they stand for.
    #[test]
    fn each_mirror_value_maps_to_the_engine_value_of_its_name() {
        for r in RoleArg::value_variants() {
            let name = r.to_possible_value().map(|p| p.get_name().to_string());
            assert_eq!(name.as_deref(), Some(Role::from(*r).as_str()));
        }
        for a in AuthArg::value_variants() {
            let name = a.to_possible_value().map(|p| p.get_name().to_string());
            let shown = format!("{:?}", AuthMethod::from(*a));
            let kebab: String = shown
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let lower = c.to_ascii_lowercase();
                    if c.is_ascii_uppercase() && i > 0 {
                        vec!['-', lower]
                    } else {
                        vec![lower]
                    }
                })
                .collect();
            assert_eq!(name.as_deref(), Some(kebab.as_str()));
        }
    }
}
