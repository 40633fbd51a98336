//! The outbound HTTP of single sign-on: deadlines, no redirects followed (a token endpoint that
//! redirects is not followed elsewhere with a code or secret; OAuth 2.0 Security BCP §4.11),
//! and bodies capped, so that a provider — or whatever answers at its address — cannot hold a
//! request or fill memory.

use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

/// The largest body read from a provider (discovery documents and key sets are a few KiB).
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub struct Http(reqwest::Client);

/// A failed exchange with a provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl Http {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Docket/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Self(client)
    }

    /// GETs JSON from a provider: 200 and at most [`MAX_BODY`] bytes. The error names the URL
    /// (the caller reports the provider as unreachable).
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, HttpError> {
        let response = self
            .0
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| HttpError(format!("{url}: {e}")))?;
        let status = response.status();
        let body = read_capped(response)
            .await
            .map_err(|e| HttpError(format!("{url}: {e}")))?;
        if status != reqwest::StatusCode::OK {
            return Err(HttpError(format!("{url} answered {status}")));
        }
        Ok(body)
    }

    /// One request of `openidconnect` (token, user info), under the same rules.
    pub fn send(
        &self,
        request: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, HttpError>> + 'static {
        let client = self.0.clone();
        async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError(format!("request: {e}")))?;
            let response = client
                .execute(request)
                .await
                .map_err(|e| HttpError(e.to_string()))?;
            let mut builder = axum::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_capped(response).await?;
            builder.body(body).map_err(|e| HttpError(e.to_string()))
        }
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError(format!("a body over {MAX_BODY} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
