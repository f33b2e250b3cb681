//! The `api-version` check ARM makes before anything else: each resource type accepts only the
//! versions its provider registered. The table is the one in tests/contracts/arm.toml (the
//! versions the Azure REST API specs list, with their evidence); a unit test keeps the two in
//! step.
//!
//! Refusals answer as ARM does: types served by ARM itself (Microsoft.Resources) with 400
//! `InvalidApiVersionParameter`, resource providers' types with 400
//! `NoRegisteredProviderFound`, an unknown type of a known namespace with 404
//! `InvalidResourceType`, an unknown namespace with 400 `InvalidResourceNamespace`.

use std::collections::BTreeSet;

use super::arm::Req;
use super::armid::{ResourceId, normalize_region, segments};
use super::reply::Reply;
use super::state::{SimState, group_key};

pub struct TypeVersions {
    /// `Microsoft.Web/sites`, nested types with every type segment.
    pub name: &'static str,
    /// Served by ARM itself rather than by a resource provider.
    pub arm: bool,
    /// Oldest first.
    pub versions: &'static [&'static str],
}

pub const TYPES: &[TypeVersions] = &[
    TypeVersions {
        name: "Microsoft.Cdn/profiles",
        arm: false,
        versions: &[
            "2020-09-01",
            "2021-06-01",
            "2023-05-01",
            "2023-07-01-preview",
            "2024-02-01",
            "2024-05-01-preview",
            "2024-06-01-preview",
            "2024-09-01",
            "2025-04-15",
            "2025-06-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Cdn/profiles/afdEndpoints",
        arm: false,
        versions: &[
            "2020-09-01",
            "2021-06-01",
            "2023-05-01",
            "2023-07-01-preview",
            "2024-02-01",
            "2024-05-01-preview",
            "2024-06-01-preview",
            "2024-09-01",
            "2025-04-15",
            "2025-06-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Cdn/profiles/originGroups",
        arm: false,
        versions: &[
            "2020-09-01",
            "2021-06-01",
            "2023-05-01",
            "2023-07-01-preview",
            "2024-02-01",
            "2024-05-01-preview",
            "2024-06-01-preview",
            "2024-09-01",
            "2025-04-15",
            "2025-06-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Cdn/profiles/originGroups/origins",
        arm: false,
        versions: &[
            "2020-09-01",
            "2021-06-01",
            "2023-05-01",
            "2023-07-01-preview",
            "2024-02-01",
            "2024-05-01-preview",
            "2024-06-01-preview",
            "2024-09-01",
            "2025-04-15",
            "2025-06-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Compute/virtualMachineScaleSets",
        arm: false,
        versions: &[
            "2022-08-01",
            "2022-11-01",
            "2023-03-01",
            "2023-07-01",
            "2023-09-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-04-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.ContainerRegistry/registries",
        arm: false,
        versions: &[
            "2019-05-01",
            "2021-06-01-preview",
            "2021-08-01-preview",
            "2021-09-01",
            "2021-12-01-preview",
            "2022-02-01-preview",
            "2022-12-01",
            "2023-01-01-preview",
            "2023-06-01-preview",
            "2023-07-01",
            "2023-08-01-preview",
            "2023-11-01-preview",
            "2024-11-01-preview",
            "2025-04-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.ContainerRegistry/registries/replications",
        arm: false,
        versions: &[
            "2019-05-01",
            "2021-06-01-preview",
            "2021-08-01-preview",
            "2021-09-01",
            "2021-12-01-preview",
            "2022-02-01-preview",
            "2022-12-01",
            "2023-01-01-preview",
            "2023-06-01-preview",
            "2023-07-01",
            "2023-08-01-preview",
            "2023-11-01-preview",
            "2024-11-01-preview",
            "2025-04-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.ContainerService/managedClusters",
        arm: false,
        versions: &[
            "2023-01-01",
            "2023-07-01",
            "2023-08-01",
            "2023-09-01",
            "2023-10-01",
            "2023-11-01",
            "2024-01-01",
            "2024-02-01",
            "2024-05-01",
            "2024-07-01",
            "2024-08-01",
            "2024-09-01",
            "2024-10-01",
            "2025-01-01",
            "2025-02-01",
            "2025-03-01",
            "2025-04-01",
            "2025-05-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.DataProtection/backupVaults",
        arm: false,
        versions: &[
            "2023-05-01",
            "2023-11-01",
            "2024-03-01",
            "2024-04-01",
            "2025-07-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.DataProtection/backupVaults/backupInstances",
        arm: false,
        versions: &[
            "2023-05-01",
            "2023-11-01",
            "2024-03-01",
            "2024-04-01",
            "2025-07-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.DocumentDB/databaseAccounts",
        arm: false,
        versions: &[
            "2014-04-01",
            "2015-04-08",
            "2015-11-06",
            "2016-03-19",
            "2016-03-31",
            "2019-08-01",
            "2019-12-12",
            "2020-03-01",
            "2020-04-01",
            "2020-06-01-preview",
            "2020-09-01",
            "2021-01-15",
            "2021-03-01-preview",
            "2021-03-15",
            "2021-04-01-preview",
            "2021-04-15",
            "2021-05-15",
            "2021-06-15",
            "2021-07-01-preview",
            "2021-10-15",
            "2021-10-15-preview",
            "2021-11-15-preview",
            "2022-02-15-preview",
            "2022-05-15",
            "2022-05-15-preview",
            "2022-08-15",
            "2022-08-15-preview",
            "2022-11-15",
            "2022-11-15-preview",
            "2023-03-01-preview",
            "2023-03-15",
            "2023-03-15-preview",
            "2023-04-15",
            "2023-09-15",
            "2023-09-15-preview",
            "2023-11-15",
            "2023-11-15-preview",
            "2024-02-15-preview",
            "2024-05-15",
            "2024-05-15-preview",
            "2024-08-15",
            "2024-09-01-preview",
            "2024-11-15",
            "2024-12-01-preview",
            "2025-04-15",
            "2025-05-01-preview",
            "2025-10-15",
            "2025-11-01-preview",
            "2026-03-15",
            "2026-04-01-preview",
            "2026-07-15",
        ],
    },
    TypeVersions {
        name: "Microsoft.DocumentDB/locations/restorableDatabaseAccounts",
        arm: false,
        versions: &[
            "2020-06-01-preview",
            "2021-03-01-preview",
            "2021-04-01-preview",
            "2021-06-15",
            "2021-07-01-preview",
            "2021-10-15",
            "2021-10-15-preview",
            "2021-11-15-preview",
            "2022-02-15-preview",
            "2022-05-15",
            "2022-05-15-preview",
            "2022-08-15",
            "2022-08-15-preview",
            "2022-11-15",
            "2022-11-15-preview",
            "2023-03-01-preview",
            "2023-03-15",
            "2023-03-15-preview",
            "2023-04-15",
            "2023-09-15",
            "2023-09-15-preview",
            "2023-11-15",
            "2023-11-15-preview",
            "2024-02-15-preview",
            "2024-05-15",
            "2024-05-15-preview",
            "2024-08-15",
            "2024-09-01-preview",
            "2024-11-15",
            "2024-12-01-preview",
            "2025-04-15",
            "2025-05-01-preview",
            "2025-10-15",
            "2025-11-01-preview",
            "2026-03-15",
            "2026-04-01-preview",
            "2026-07-15",
        ],
    },
    TypeVersions {
        name: "Microsoft.DocumentDB/restorableDatabaseAccounts",
        arm: false,
        versions: &[
            "2020-06-01-preview",
            "2021-03-01-preview",
            "2021-04-01-preview",
            "2021-06-15",
            "2021-07-01-preview",
            "2021-10-15",
            "2021-10-15-preview",
            "2021-11-15-preview",
            "2022-02-15-preview",
            "2022-05-15",
            "2022-05-15-preview",
            "2022-08-15",
            "2022-08-15-preview",
            "2022-11-15",
            "2022-11-15-preview",
            "2023-03-01-preview",
            "2023-03-15",
            "2023-03-15-preview",
            "2023-04-15",
            "2023-09-15",
            "2023-09-15-preview",
            "2023-11-15",
            "2023-11-15-preview",
            "2024-02-15-preview",
            "2024-05-15",
            "2024-05-15-preview",
            "2024-08-15",
            "2024-09-01-preview",
            "2024-11-15",
            "2024-12-01-preview",
            "2025-04-15",
            "2025-05-01-preview",
            "2025-10-15",
            "2025-11-01-preview",
            "2026-03-15",
            "2026-04-01-preview",
            "2026-07-15",
        ],
    },
    TypeVersions {
        name: "Microsoft.KeyVault/vaults",
        arm: false,
        versions: &[
            "2015-06-01",
            "2016-10-01",
            "2018-02-14",
            "2019-09-01",
            "2020-04-01-preview",
            "2021-04-01-preview",
            "2021-06-01-preview",
            "2021-10-01",
            "2021-11-01-preview",
            "2022-07-01",
            "2022-11-01",
            "2023-02-01",
            "2023-07-01",
            "2024-04-01-preview",
            "2024-11-01",
            "2024-12-01-preview",
            "2025-05-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Logic/workflows",
        arm: false,
        versions: &[
            "2015-02-01-preview",
            "2016-06-01",
            "2018-07-01-preview",
            "2019-05-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Logic/workflows/runs",
        arm: false,
        versions: &[
            "2015-02-01-preview",
            "2016-06-01",
            "2018-07-01-preview",
            "2019-05-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Logic/workflows/triggers",
        arm: false,
        versions: &[
            "2015-02-01-preview",
            "2016-06-01",
            "2018-07-01-preview",
            "2019-05-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.ManagedIdentity/userAssignedIdentities",
        arm: false,
        versions: &[
            "2018-11-30",
            "2021-09-30-preview",
            "2022-01-31-preview",
            "2023-01-31",
            "2023-07-31-preview",
            "2024-11-30",
            "2025-01-31-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        arm: false,
        versions: &[
            "2022-01-31-preview",
            "2023-01-31",
            "2023-07-31-preview",
            "2024-11-30",
            "2025-01-31-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Network/dnsZones",
        arm: false,
        versions: &[
            "2015-05-04-preview",
            "2016-04-01",
            "2017-09-01",
            "2017-10-01",
            "2018-03-01-preview",
            "2018-05-01",
            "2023-07-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Network/dnsZones/A",
        arm: false,
        versions: &[
            "2015-05-04-preview",
            "2016-04-01",
            "2017-09-01",
            "2017-10-01",
            "2018-03-01-preview",
            "2018-05-01",
            "2023-07-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Network/dnsZones/CNAME",
        arm: false,
        versions: &[
            "2015-05-04-preview",
            "2016-04-01",
            "2017-09-01",
            "2017-10-01",
            "2018-03-01-preview",
            "2018-05-01",
            "2023-07-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Network/publicIPAddresses",
        arm: false,
        versions: &[
            "2022-05-01",
            "2022-07-01",
            "2022-09-01",
            "2022-11-01",
            "2023-09-01",
            "2024-03-01",
            "2024-05-01",
            "2024-07-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Network/trafficManagerProfiles",
        arm: false,
        versions: &[
            "2015-11-01",
            "2017-03-01",
            "2017-05-01",
            "2018-02-01",
            "2018-03-01",
            "2018-04-01",
            "2018-08-01",
            "2022-04-01",
            "2022-04-01-preview",
            "2024-04-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Network/trafficManagerProfiles/azureEndpoints",
        arm: false,
        versions: &[
            "2015-11-01",
            "2017-03-01",
            "2017-05-01",
            "2018-02-01",
            "2018-03-01",
            "2018-04-01",
            "2018-08-01",
            "2022-04-01",
            "2022-04-01-preview",
            "2024-04-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Network/trafficManagerProfiles/externalEndpoints",
        arm: false,
        versions: &[
            "2015-11-01",
            "2017-03-01",
            "2017-05-01",
            "2018-02-01",
            "2018-03-01",
            "2018-04-01",
            "2018-08-01",
            "2022-04-01",
            "2022-04-01-preview",
            "2024-04-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.RecoveryServices/vaults",
        arm: false,
        versions: &[
            "2023-04-01",
            "2024-02-01",
            "2024-04-01",
            "2024-10-01",
            "2025-02-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.ResourceGraph/resources",
        arm: false,
        versions: &[
            "2018-09-01-preview",
            "2019-04-01",
            "2020-04-01-preview",
            "2021-03-01",
            "2021-06-01-preview",
            "2022-10-01",
            "2024-04-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.ResourceHealth/availabilityStatuses",
        arm: false,
        versions: &[
            "2015-01-01",
            "2017-07-01",
            "2018-07-01",
            "2020-05-01",
            "2020-05-01-preview",
            "2022-05-01-preview",
            "2022-10-01",
            "2022-10-01-preview",
            "2023-10-01-preview",
            "2024-02-01",
            "2025-05-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Resources/deployments",
        arm: true,
        versions: &[
            "2019-05-01",
            "2019-10-01",
            "2020-06-01",
            "2020-10-01",
            "2021-01-01",
            "2021-04-01",
            "2022-09-01",
            "2023-07-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-04-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Resources/resourceGroups",
        arm: true,
        versions: &[
            "2019-05-01",
            "2019-10-01",
            "2020-06-01",
            "2020-10-01",
            "2021-01-01",
            "2021-04-01",
            "2022-09-01",
            "2023-07-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-04-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Resources/resources",
        arm: true,
        versions: &[
            "2019-05-01",
            "2019-10-01",
            "2020-06-01",
            "2020-10-01",
            "2021-01-01",
            "2021-04-01",
            "2022-09-01",
            "2023-07-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-04-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Resources/subscriptions",
        arm: true,
        versions: &[
            "2016-06-01",
            "2019-11-01",
            "2020-01-01",
            "2021-01-01",
            "2022-12-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.ServiceBus/namespaces",
        arm: false,
        versions: &[
            "2017-04-01",
            "2021-01-01-preview",
            "2021-06-01-preview",
            "2021-11-01",
            "2022-01-01-preview",
            "2022-10-01-preview",
            "2023-01-01-preview",
            "2024-01-01",
            "2025-05-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.ServiceBus/namespaces/disasterRecoveryConfigs",
        arm: false,
        versions: &[
            "2017-04-01",
            "2021-01-01-preview",
            "2021-06-01-preview",
            "2021-11-01",
            "2022-01-01-preview",
            "2022-10-01-preview",
            "2023-01-01-preview",
            "2024-01-01",
            "2025-05-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.ServiceBus/namespaces/queues",
        arm: false,
        versions: &[
            "2017-04-01",
            "2021-01-01-preview",
            "2021-06-01-preview",
            "2021-11-01",
            "2022-01-01-preview",
            "2022-10-01-preview",
            "2023-01-01-preview",
            "2024-01-01",
            "2025-05-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Sql/servers",
        arm: false,
        versions: &[
            "2014-04-01",
            "2015-05-01-preview",
            "2019-06-01-preview",
            "2020-02-02-preview",
            "2020-08-01-preview",
            "2020-11-01-preview",
            "2021-02-01-preview",
            "2021-05-01-preview",
            "2021-08-01-preview",
            "2021-11-01",
            "2021-11-01-preview",
            "2022-02-01-preview",
            "2022-05-01-preview",
            "2022-08-01-preview",
            "2022-11-01-preview",
            "2023-02-01-preview",
            "2023-05-01-preview",
            "2023-08-01",
            "2024-05-01-preview",
            "2024-11-01-preview",
            "2025-01-01",
            "2025-02-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Sql/servers/databases",
        arm: false,
        versions: &[
            "2014-04-01",
            "2015-05-01-preview",
            "2017-03-01-preview",
            "2017-10-01-preview",
            "2019-06-01-preview",
            "2020-02-02-preview",
            "2020-08-01-preview",
            "2020-11-01-preview",
            "2021-02-01-preview",
            "2021-05-01-preview",
            "2021-08-01-preview",
            "2021-11-01",
            "2021-11-01-preview",
            "2022-02-01-preview",
            "2022-05-01-preview",
            "2022-08-01-preview",
            "2022-11-01-preview",
            "2023-02-01-preview",
            "2023-05-01-preview",
            "2023-08-01",
            "2024-05-01-preview",
            "2024-11-01-preview",
            "2025-01-01",
            "2025-02-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Sql/servers/failoverGroups",
        arm: false,
        versions: &[
            "2015-05-01-preview",
            "2020-02-02-preview",
            "2020-08-01-preview",
            "2020-11-01-preview",
            "2021-02-01-preview",
            "2021-05-01-preview",
            "2021-08-01-preview",
            "2021-11-01",
            "2021-11-01-preview",
            "2022-02-01-preview",
            "2022-05-01-preview",
            "2022-08-01-preview",
            "2022-11-01-preview",
            "2023-02-01-preview",
            "2023-05-01-preview",
            "2023-08-01",
            "2024-05-01-preview",
            "2024-11-01-preview",
            "2025-01-01",
            "2025-02-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Sql/servers/recoverableDatabases",
        arm: false,
        versions: &[
            "2015-05-01-preview",
            "2020-02-02-preview",
            "2020-08-01-preview",
            "2020-11-01-preview",
            "2021-02-01-preview",
            "2021-05-01-preview",
            "2021-08-01-preview",
            "2021-11-01",
            "2021-11-01-preview",
            "2022-02-01-preview",
            "2022-05-01-preview",
            "2022-08-01-preview",
            "2022-11-01-preview",
            "2023-02-01-preview",
            "2023-05-01-preview",
            "2023-08-01",
            "2024-05-01-preview",
            "2024-11-01-preview",
            "2025-01-01",
            "2025-02-01-preview",
        ],
    },
    TypeVersions {
        name: "Microsoft.Storage/storageAccounts",
        arm: false,
        versions: &[
            "2015-05-01-preview",
            "2015-06-15",
            "2016-01-01",
            "2016-05-01",
            "2016-12-01",
            "2017-06-01",
            "2017-10-01",
            "2018-02-01",
            "2018-03-01-preview",
            "2018-07-01",
            "2018-11-01",
            "2019-04-01",
            "2019-06-01",
            "2021-01-01",
            "2021-02-01",
            "2021-04-01",
            "2021-06-01",
            "2021-08-01",
            "2021-09-01",
            "2022-05-01",
            "2022-09-01",
            "2023-01-01",
            "2023-04-01",
            "2023-05-01",
            "2024-01-01",
            "2025-01-01",
            "2025-06-01",
            "2025-08-01",
            "2026-04-01",
            "2026-06-01",
            "2026-09-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Web/connections",
        arm: false,
        versions: &["2016-06-01"],
    },
    TypeVersions {
        name: "Microsoft.Web/locations/managedApis",
        arm: false,
        versions: &["2016-06-01"],
    },
    TypeVersions {
        name: "Microsoft.Web/serverfarms",
        arm: false,
        versions: &[
            "2016-08-01",
            "2018-02-01",
            "2018-11-01",
            "2019-08-01",
            "2020-06-01",
            "2020-09-01",
            "2020-10-01",
            "2020-12-01",
            "2021-01-01",
            "2021-01-15",
            "2021-02-01",
            "2021-03-01",
            "2022-03-01",
            "2022-09-01",
            "2023-01-01",
            "2023-12-01",
            "2024-04-01",
            "2024-11-01",
            "2025-03-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Web/sites",
        arm: false,
        versions: &[
            "2016-08-01",
            "2018-02-01",
            "2018-11-01",
            "2019-08-01",
            "2020-06-01",
            "2020-09-01",
            "2020-10-01",
            "2020-12-01",
            "2021-01-01",
            "2021-01-15",
            "2021-02-01",
            "2021-03-01",
            "2022-03-01",
            "2022-09-01",
            "2023-01-01",
            "2023-12-01",
            "2024-04-01",
            "2024-11-01",
            "2025-03-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Web/sites/backups",
        arm: false,
        versions: &[
            "2016-08-01",
            "2018-02-01",
            "2018-11-01",
            "2019-08-01",
            "2020-06-01",
            "2020-09-01",
            "2020-10-01",
            "2020-12-01",
            "2021-01-01",
            "2021-01-15",
            "2021-02-01",
            "2021-03-01",
            "2022-03-01",
            "2022-09-01",
            "2023-01-01",
            "2023-12-01",
            "2024-04-01",
            "2024-11-01",
            "2025-03-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Web/sites/config",
        arm: false,
        versions: &[
            "2016-08-01",
            "2018-02-01",
            "2018-11-01",
            "2019-08-01",
            "2020-06-01",
            "2020-09-01",
            "2020-10-01",
            "2020-12-01",
            "2021-01-01",
            "2021-01-15",
            "2021-02-01",
            "2021-03-01",
            "2022-03-01",
            "2022-09-01",
            "2023-01-01",
            "2023-12-01",
            "2024-04-01",
            "2024-11-01",
            "2025-03-01",
        ],
    },
    TypeVersions {
        name: "Microsoft.Web/sites/slots",
        arm: false,
        versions: &[
            "2016-08-01",
            "2018-02-01",
            "2018-11-01",
            "2019-08-01",
            "2020-06-01",
            "2020-09-01",
            "2020-10-01",
            "2020-12-01",
            "2021-01-01",
            "2021-01-15",
            "2021-02-01",
            "2021-03-01",
            "2022-03-01",
            "2022-09-01",
            "2023-01-01",
            "2023-12-01",
            "2024-04-01",
            "2024-11-01",
            "2025-03-01",
        ],
    },
];

/// The versions `type_name` accepts (its name compares without case).
pub fn supported(type_name: &str) -> Option<&'static TypeVersions> {
    TYPES
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(type_name))
}

/// What a request addresses, for the api-version check: `None` when the simulator does not
/// check it (its own operation URLs, extension resources, paths no route serves).
pub fn type_of(method: &str, path: &str) -> Option<String> {
    let segs = segments(path);
    let is = |i: usize, w: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(w));
    let providers: Vec<usize> = (0..segs.len()).filter(|&i| is(i, "providers")).collect();
    if let Some(&i) = providers.last()
        && is(i + 1, "Microsoft.ResourceHealth")
    {
        return is(i + 2, "availabilityStatuses")
            .then(|| "Microsoft.ResourceHealth/availabilityStatuses".to_string());
    }
    match providers.as_slice() {
        [] => {
            if !is(0, "subscriptions") {
                return None;
            }
            let arm = |t: &str| Some(format!("Microsoft.Resources/{t}"));
            match segs.len() {
                1 | 2 => arm("subscriptions"),
                3 if is(2, "resources") => arm("resources"),
                3 | 4 if is(2, "resourceGroups") => arm("resourceGroups"),
                5 if is(2, "resourceGroups") && is(4, "resources") => arm("resources"),
                _ => None,
            }
        }
        [i] => {
            let after = &segs[i + 1..];
            let (ns, mut rest) = after.split_first()?;
            if ns.eq_ignore_ascii_case("Microsoft.Simulator") || rest.is_empty() {
                return None;
            }
            // A POST names an action after the resource: `.../sites/x/start`.
            if method.eq_ignore_ascii_case("POST") && rest.len() > 1 && rest.len() % 2 == 1 {
                rest = &rest[..rest.len() - 1];
            }
            let types: Vec<&str> = rest.iter().step_by(2).map(String::as_str).collect();
            Some(format!("{ns}/{}", types.join("/")))
        }
        // Extension resources (`{id}/providers/Microsoft.Insights/...`) are not served.
        _ => None,
    }
}

/// ARM's answer to an `api-version` the addressed type does not accept, or to a type no
/// provider registered. Called first in the dispatch, as ARM checks it before the resource.
pub fn check(st: &SimState, req: &Req) -> Result<(), Reply> {
    let Some(type_name) = type_of(req.method, req.path) else {
        return Ok(());
    };
    let Some(t) = supported(&type_name) else {
        return Err(unknown_type(&type_name, req.api_version));
    };
    if t.versions.contains(&req.api_version) {
        return Ok(());
    }
    let newest_first = || t.versions.iter().rev().copied();
    if t.arm {
        return Err(Reply::error(
            400,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{}' is invalid. The supported versions are '{}'.",
                req.api_version,
                newest_first().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let short = t.name.split_once('/').map_or(t.name, |(_, s)| s);
    Err(Reply::error(
        400,
        "NoRegisteredProviderFound",
        format!(
            "No registered resource provider found for location '{}' and API version '{}' for \
             type '{short}'. The supported api-versions are '{}'. The supported locations are \
             '{}'.",
            location_of(st, req.path),
            req.api_version,
            newest_first().collect::<Vec<_>>().join(", "),
            regions(st).join(", ")
        ),
    ))
}

fn unknown_type(type_name: &str, api_version: &str) -> Reply {
    let (ns, short) = type_name.split_once('/').unwrap_or((type_name, ""));
    let known_ns = TYPES.iter().any(|t| {
        t.name
            .split_once('/')
            .is_some_and(|(n, _)| n.eq_ignore_ascii_case(ns))
    });
    if known_ns {
        Reply::error(
            404,
            "InvalidResourceType",
            format!(
                "The resource type '{short}' could not be found in the namespace '{ns}' for api \
                 version '{api_version}'."
            ),
        )
    } else {
        Reply::error(
            400,
            "InvalidResourceNamespace",
            format!("The resource namespace '{ns}' is invalid."),
        )
    }
}

/// The location of the request's scope, as ARM names it: the addressed resource's (or its
/// nearest ancestor's) ARM `location`, else its group's. Not the region whose outage takes the
/// resource down, which for a multi-region account is `global`.
fn location_of(st: &SimState, path: &str) -> String {
    let rid = ResourceId::parse(path).or_else(|| {
        // An action or a collection: its parent resource.
        let segs = segments(path);
        ResourceId::parse(&format!(
            "/{}",
            segs[..segs.len().saturating_sub(1)].join("/")
        ))
    });
    let Some(rid) = rid else {
        // A collection of a group (`.../resourceGroups/rg/providers/NS/type`): the group's.
        let segs = segments(path);
        return segs
            .iter()
            .position(|s| s.eq_ignore_ascii_case("resourceGroups"))
            .and_then(|i| Some((segs.get(1)?, segs.get(i + 1)?)))
            .and_then(|(sub, rg)| st.groups.get(&group_key(sub, rg)))
            .map_or_else(|| "global".into(), |g| normalize_region(&g.location));
    };
    if let Some(loc) = st
        .nearest(&rid)
        .and_then(|r| r.body.get("location"))
        .and_then(serde_json::Value::as_str)
        .map(normalize_region)
        .filter(|l| !l.is_empty())
    {
        return loc;
    }
    rid.resource_group
        .as_ref()
        .and_then(|rg| st.groups.get(&group_key(&rid.subscription, rg)))
        .map_or_else(|| "global".into(), |g| normalize_region(&g.location))
}

fn regions(st: &SimState) -> Vec<String> {
    let set: BTreeSet<String> = st
        .resources
        .values()
        .map(|r| r.region.clone())
        .chain(st.resources.values().filter_map(|r| {
            r.body
                .get("location")
                .and_then(serde_json::Value::as_str)
                .map(normalize_region)
        }))
        .chain(st.groups.values().map(|g| normalize_region(&g.location)))
        .filter(|r| r != "global")
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Contract {
        #[serde(rename = "type")]
        types: Vec<ContractType>,
    }

    #[derive(serde::Deserialize)]
    struct ContractType {
        #[serde(rename = "type")]
        name: String,
        #[serde(default)]
        arm: bool,
        api_versions: Vec<String>,
    }

    /// The compiled table says what tests/contracts/arm.toml says, type for type.
    #[test]
    fn the_table_is_the_contracts() {
        let c: Contract = toml::from_str(include_str!("../../tests/contracts/arm.toml"))
            .expect("tests/contracts/arm.toml parses");
        let mut problems = Vec::new();
        for ct in &c.types {
            match TYPES.iter().find(|t| t.name == ct.name) {
                None => problems.push(format!("{} is in the contracts, not in TYPES", ct.name)),
                Some(t) => {
                    if t.arm != ct.arm {
                        problems.push(format!("{}: arm is {} in TYPES", ct.name, t.arm));
                    }
                    if t.versions != ct.api_versions.as_slice() {
                        problems.push(format!(
                            "{}: TYPES lists {:?}, the contracts {:?}",
                            ct.name, t.versions, ct.api_versions
                        ));
                    }
                }
            }
        }
        for t in TYPES {
            if !c.types.iter().any(|ct| ct.name == t.name) {
                problems.push(format!("{} is in TYPES, not in the contracts", t.name));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn requests_name_their_type() {
        let rg = "/subscriptions/s/resourceGroups/rg";
        for (method, path, want) in [
            (
                "GET",
                "/subscriptions",
                Some("Microsoft.Resources/subscriptions"),
            ),
            (
                "GET",
                "/subscriptions/s",
                Some("Microsoft.Resources/subscriptions"),
            ),
            ("GET", rg, Some("Microsoft.Resources/resourceGroups")),
            (
                "GET",
                "/subscriptions/s/resourceGroups",
                Some("Microsoft.Resources/resourceGroups"),
            ),
            (
                "GET",
                &format!("{rg}/resources"),
                Some("Microsoft.Resources/resources"),
            ),
            (
                "GET",
                &format!("{rg}/providers/Microsoft.Web/sites/a"),
                Some("Microsoft.Web/sites"),
            ),
            (
                "POST",
                &format!("{rg}/providers/Microsoft.Web/sites/a/start"),
                Some("Microsoft.Web/sites"),
            ),
            (
                "GET",
                &format!("{rg}/providers/Microsoft.Web/sites"),
                Some("Microsoft.Web/sites"),
            ),
            (
                "POST",
                &format!("{rg}/providers/Microsoft.Logic/workflows/w/triggers/t/run"),
                Some("Microsoft.Logic/workflows/triggers"),
            ),
            (
                "GET",
                &format!("{rg}/providers/Microsoft.Sql/servers/s/failoverGroups/f"),
                Some("Microsoft.Sql/servers/failoverGroups"),
            ),
            (
                "GET",
                &format!(
                    "{rg}/providers/Microsoft.Web/sites/a/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
                ),
                Some("Microsoft.ResourceHealth/availabilityStatuses"),
            ),
            (
                "POST",
                "/providers/Microsoft.ResourceGraph/resources",
                Some("Microsoft.ResourceGraph/resources"),
            ),
            (
                "GET",
                &format!(
                    "{rg}/providers/Microsoft.Web/sites/a/providers/Microsoft.Insights/diagnosticSettings/x"
                ),
                None,
            ),
            (
                "GET",
                "/subscriptions/s/providers/Microsoft.Simulator/locations/l/operationStatuses/o",
                None,
            ),
            ("GET", "/nonsense/path", None),
        ] {
            assert_eq!(type_of(method, path).as_deref(), want, "{method} {path}");
        }
    }
}
