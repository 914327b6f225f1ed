//! The operator's proxy configuration: where to forward, whose key, which models at what price.

use serde::{Deserialize, Serialize};

use super::ProxyError;

/// How the inference proxy forwards and prices agents' LLM calls.
///
/// ```toml
/// upstream_base_url = "https://llm.chutes.ai/v1"
/// upstream_api_key_env = "WHETSTONE_LLM_API_KEY"
/// request_timeout_secs = 300
///
/// [[models]]
/// name = "deepseek-ai/DeepSeek-V3"
/// input_micro_usd_per_mtok = 270000        # $0.27 per million prompt tokens
/// output_micro_usd_per_mtok = 1100000      # $1.10 per million completion tokens
/// max_output_tokens = 8192
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Base URL of any OpenAI-compatible provider, up to and including its version prefix
    /// (`https://openrouter.ai/api/v1`, `http://127.0.0.1:8000/v1`); the proxy appends
    /// `/chat/completions` and `/embeddings`. `http://` and `https://` are accepted. Required.
    pub upstream_base_url: String,
    /// Name of the environment variable holding the operator's upstream API key, read once
    /// when the proxy binds. The key is sent upstream as `Authorization: Bearer …` and never
    /// reaches an agent. Default: `WHETSTONE_LLM_API_KEY`.
    #[serde(default = "default_api_key_env")]
    pub upstream_api_key_env: String,
    /// The model allowlist with prices; a request for any other model gets a 400. Required,
    /// at least one.
    pub models: Vec<ModelPrice>,
    /// Longest a single upstream call may take, from forwarding the request to the last byte
    /// of the (possibly streamed) response. Default: 300.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
}

/// One allowed model and its price, in integer micro-dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// The model id exactly as the upstream names it (and as agents must send it). Required.
    pub name: String,
    /// Price of a million prompt (input) tokens, in micro-dollars. Embeddings are charged by
    /// this price alone. Required.
    pub input_micro_usd_per_mtok: u64,
    /// Price of a million completion (output) tokens, in micro-dollars. Default: 0
    /// (embedding models).
    #[serde(default)]
    pub output_micro_usd_per_mtok: u64,
    /// Most completion tokens one request may ask for. A chat request without `max_tokens`
    /// (or `max_completion_tokens`) is forwarded with this value, and a larger value is capped
    /// to it, so the upstream can never produce more than was reserved. Default: 4096.
    #[serde(default = "default_max_output_tokens")]
    pub max_output_tokens: u64,
}

fn default_api_key_env() -> String {
    "WHETSTONE_LLM_API_KEY".to_owned()
}

fn default_request_timeout_secs() -> u64 {
    300
}

fn default_max_output_tokens() -> u64 {
    4096
}

impl ProxyConfig {
    /// Checks what serde cannot: a usable URL, a non-empty allowlist without duplicates.
    pub fn validate(&self) -> Result<(), ProxyError> {
        let invalid = |reason: String| Err(ProxyError::InvalidConfig(reason));
        let url: http::Uri = match self.upstream_base_url.parse() {
            Ok(url) => url,
            Err(_) => return invalid(format!("upstream_base_url {:?} is not a URL", self.upstream_base_url)),
        };
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            return invalid(format!("upstream_base_url {:?} must be an http:// or https:// URL", self.upstream_base_url));
        }
        if self.models.is_empty() {
            return invalid("models is empty: at least one model must be allowed".to_owned());
        }
        let mut names = std::collections::HashSet::new();
        for model in &self.models {
            if model.name.is_empty() {
                return invalid("a model has an empty name".to_owned());
            }
            if !names.insert(model.name.as_str()) {
                return invalid(format!("model {:?} is listed twice", model.name));
            }
            if model.max_output_tokens == 0 {
                return invalid(format!("model {:?} has max_output_tokens = 0", model.name));
            }
        }
        if self.request_timeout_secs == 0 {
            return invalid("request_timeout_secs must be at least 1".to_owned());
        }
        Ok(())
    }

    pub(crate) fn model(&self, name: &str) -> Option<&ModelPrice> {
        self.models.iter().find(|m| m.name == name)
    }

    pub(crate) fn model_names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }
}

/// The operator's upstream key. Its `Debug` never prints it.
#[derive(Clone)]
pub struct UpstreamKey(String);

impl UpstreamKey {
    /// An explicit key; an empty one sends no `Authorization` header (a local vLLM or
    /// llama.cpp server needs none).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Reads the key from the variable the config names; unset or not UTF-8 is an error.
    pub fn from_env(config: &ProxyConfig) -> Result<Self, ProxyError> {
        std::env::var(&config.upstream_api_key_env).map(Self).map_err(|_| ProxyError::MissingApiKey(config.upstream_api_key_env.clone()))
    }

    pub(crate) fn bearer(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| format!("Bearer {}", self.0))
    }
}

impl std::fmt::Debug for UpstreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_unknown_fields_are_rejected() {
        let config: ProxyConfig = toml::from_str(
            r#"
            upstream_base_url = "http://127.0.0.1:8000/v1"
            [[models]]
            name = "m"
            input_micro_usd_per_mtok = 1
            "#,
        )
        .expect("minimal config parses");
        assert_eq!(config.upstream_api_key_env, "WHETSTONE_LLM_API_KEY");
        assert_eq!(config.request_timeout_secs, 300);
        assert_eq!(config.models[0].max_output_tokens, 4096);
        assert_eq!(config.models[0].output_micro_usd_per_mtok, 0);
        config.validate().expect("valid");

        let typo = toml::from_str::<ProxyConfig>("upstream_base_url = \"http://x/v1\"\nmodels = []\nrequest_timeout = 3\n");
        assert!(typo.is_err(), "unknown field must be rejected");
    }

    #[test]
    fn validate_rejects_unusable_configs() {
        let model = |name: &str| ModelPrice {
            name: name.to_owned(),
            input_micro_usd_per_mtok: 1,
            output_micro_usd_per_mtok: 1,
            max_output_tokens: 10,
        };
        let base = ProxyConfig {
            upstream_base_url: "https://api.example.com/v1".to_owned(),
            upstream_api_key_env: default_api_key_env(),
            models: vec![model("a")],
            request_timeout_secs: 5,
        };
        base.validate().expect("base is valid");
        let cases: Vec<(&str, ProxyConfig)> = vec![
            ("ftp scheme", ProxyConfig { upstream_base_url: "ftp://x/v1".into(), ..base.clone() }),
            ("no scheme", ProxyConfig { upstream_base_url: "api.example.com".into(), ..base.clone() }),
            ("no models", ProxyConfig { models: vec![], ..base.clone() }),
            ("duplicate", ProxyConfig { models: vec![model("a"), model("a")], ..base.clone() }),
            ("zero timeout", ProxyConfig { request_timeout_secs: 0, ..base.clone() }),
        ];
        for (what, config) in cases {
            assert!(config.validate().is_err(), "{what} must be rejected");
        }
    }

    #[test]
    fn upstream_key_is_redacted() {
        let key = UpstreamKey::new("sk-operator-secret");
        assert!(!format!("{key:?}").contains("secret"));
        assert_eq!(UpstreamKey::new("").bearer(), None);
    }
}
