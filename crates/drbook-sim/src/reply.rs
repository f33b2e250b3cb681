//! An HTTP answer as the simulator's logic produces it, before axum turns it into a response:
//! keeps the ARM handlers free of web-framework types and easy to test.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    Text(String),
    /// No answer at all: the server holds the request until the client gives up (a region
    /// whose front ends accept connections and never answer).
    Hang,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Json(v),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// A request never answered (see `Body::Hang`).
    pub fn hang() -> Reply {
        Reply {
            status: 504,
            headers: Vec::new(),
            body: Body::Hang,
        }
    }

    pub fn text(status: u16, s: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Text(s.into()),
        }
    }

    /// The ARM error shape: `{"error":{"code":..,"message":..}}`.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
        Reply::json(status, error_body(code, &message.into()))
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// A `202 Accepted` whose operation Azure's spec answers with `Location` alone.
    pub fn only_location(mut self) -> Reply {
        if self.status == 202 {
            self.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("Azure-AsyncOperation"));
        }
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json_body(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(v) => Some(v),
            _ => None,
        }
    }
}

pub fn error_body(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

pub fn missing_api_version() -> Reply {
    Reply::error(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )
}

pub fn bad_body(detail: &str) -> Reply {
    Reply::error(
        400,
        "InvalidRequestContent",
        format!("The request content was invalid and could not be deserialized: '{detail}'."),
    )
}

pub fn region_unavailable(region: &str, what: &str) -> Reply {
    Reply::error(
        503,
        "ServiceUnavailable",
        format!("The service is unavailable in region '{region}' and cannot serve {what}."),
    )
}
