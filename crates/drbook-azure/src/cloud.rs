//! Azure clouds: where ARM lives and which token audience it wants.

use std::fmt;
use std::str::FromStr;

use url::Url;

/// One Azure cloud (or a custom ARM endpoint such as the simulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    pub name: String,
    /// ARM endpoint, e.g. `https://management.azure.com`.
    pub arm: Url,
    /// The token scope for ARM in this cloud.
    pub scope: String,
    pub kind: CloudKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudKind {
    Public,
    UsGovernment,
    China,
    Custom,
}

impl Cloud {
    fn known(name: &str, endpoint: &str, kind: CloudKind) -> Cloud {
        let arm = Url::parse(endpoint).expect("constant URL"); // ok: a constant, not input
        Cloud {
            name: name.into(),
            scope: format!("{endpoint}/.default"),
            arm,
            kind,
        }
    }

    pub fn public() -> Cloud {
        Cloud::known(
            "AzureCloud",
            "https://management.azure.com",
            CloudKind::Public,
        )
    }

    pub fn us_government() -> Cloud {
        Cloud::known(
            "AzureUSGovernment",
            "https://management.usgovcloudapi.net",
            CloudKind::UsGovernment,
        )
    }

    pub fn china() -> Cloud {
        Cloud::known(
            "AzureChinaCloud",
            "https://management.chinacloudapi.cn",
            CloudKind::China,
        )
    }

    /// A custom ARM endpoint (Azure Stack, the simulator). Its token scope is the endpoint's.
    pub fn custom(arm: Url) -> Cloud {
        let base = arm.as_str().trim_end_matches('/').to_string();
        Cloud {
            name: "custom".into(),
            scope: format!("{base}/.default"),
            arm,
            kind: CloudKind::Custom,
        }
    }

    /// Whether `url` is an ARM endpoint of this cloud, so it may carry the ARM token: the
    /// endpoint itself, or, in Azure's own clouds, a regional ARM host over https (operation
    /// URLs such as `https://westeurope.management.azure.com/...`).
    pub fn is_arm_url(&self, url: &Url) -> bool {
        let same_port = url.port_or_known_default() == self.arm.port_or_known_default();
        let Some(host) = url.host_str() else {
            return false;
        };
        if self.arm.host_str() == Some(host) && same_port {
            return true;
        }
        let suffix = match self.kind {
            CloudKind::Public => ".management.azure.com",
            CloudKind::UsGovernment => ".management.usgovcloudapi.net",
            CloudKind::China => ".management.chinacloudapi.cn",
            CloudKind::Custom => return false,
        };
        let host = host.to_ascii_lowercase();
        url.scheme() == "https"
            && same_port
            && host.len() > suffix.len()
            && host.ends_with(suffix)
            // One label before the suffix: a region, nothing that could hide another domain.
            && !host[..host.len() - suffix.len()].contains('.')
    }

    /// azure_identity's cloud configuration, so credentials ask the right authority.
    pub fn identity_config(&self) -> Option<azure_core::cloud::CloudConfiguration> {
        use azure_core::cloud::CloudConfiguration as C;
        match self.kind {
            CloudKind::Public | CloudKind::Custom => None,
            CloudKind::UsGovernment => Some(C::AzureGovernment),
            CloudKind::China => Some(C::AzureChina),
        }
    }
}

impl FromStr for Cloud {
    type Err = String;
    fn from_str(s: &str) -> Result<Cloud, String> {
        match s.to_ascii_lowercase().as_str() {
            "public" | "azurecloud" | "azure" => Ok(Cloud::public()),
            "usgov" | "us-government" | "azureusgovernment" => Ok(Cloud::us_government()),
            "china" | "azurechinacloud" => Ok(Cloud::china()),
            other => Err(format!(
                "unknown cloud `{other}`: use public, usgov or china, or --arm-endpoint URL"
            )),
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.name,
            self.arm.as_str().trim_end_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_endpoint_and_scope() {
        assert_eq!(
            Cloud::public().scope,
            "https://management.azure.com/.default"
        );
        assert_eq!(
            Cloud::us_government().arm.as_str(),
            "https://management.usgovcloudapi.net/"
        );
        assert_eq!(
            Cloud::china().scope,
            "https://management.chinacloudapi.cn/.default"
        );
        assert_eq!("usgov".parse::<Cloud>(), Ok(Cloud::us_government()));
        assert!(
            "mars"
                .parse::<Cloud>()
                .unwrap_err()
                .contains("--arm-endpoint")
        );
        let sim = Cloud::custom(Url::parse("http://127.0.0.1:8443/").expect("literal"));
        assert_eq!(sim.scope, "http://127.0.0.1:8443/.default");
    }

    #[test]
    fn regional_arm_hosts_of_the_cloud_may_carry_the_token_and_nothing_else() {
        let u = |s: &str| Url::parse(s).expect("literal");
        let public = Cloud::public();
        for ok in [
            "https://management.azure.com/subscriptions/s",
            "https://westeurope.management.azure.com/subscriptions/s/operations/1",
            "https://NorthEurope.management.azure.com:443/x",
        ] {
            assert!(public.is_arm_url(&u(ok)), "{ok}");
        }
        for bad in [
            "http://westeurope.management.azure.com/x",
            "https://evilmanagement.azure.com/x",
            "https://a.b.management.azure.com/x",
            "https://management.azure.com.evil.net/x",
            "https://westeurope.management.azure.com:8443/x",
            "https://westeurope.management.usgovcloudapi.net/x",
            "https://example.com/x",
        ] {
            assert!(!public.is_arm_url(&u(bad)), "{bad}");
        }
        assert!(
            Cloud::us_government()
                .is_arm_url(&u("https://usgovvirginia.management.usgovcloudapi.net/x"))
        );
        assert!(Cloud::china().is_arm_url(&u("https://chinanorth.management.chinacloudapi.cn/x")));
        assert!(!Cloud::china().is_arm_url(&u("https://westeurope.management.azure.com/x")));
        let sim = Cloud::custom(u("http://127.0.0.1:8443/"));
        assert!(sim.is_arm_url(&u("http://127.0.0.1:8443/op")));
        assert!(!sim.is_arm_url(&u("http://127.0.0.1:8444/op")));
        assert!(!sim.is_arm_url(&u("http://localhost:8443/op")));
    }
}
