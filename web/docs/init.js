// Starts the API reference on /docs from the server's own OpenAPI document. No fonts, proxy
// or telemetry from a third party: the page's CSP allows only Docket's origin anyway.
/* global Scalar */
// @ts-ignore -- Scalar is the global the vendored standalone bundle defines.
Scalar.createApiReference("#app", {
  url: "/api/v1/openapi.json",
  withDefaultFonts: false,
  hideClientButton: true,
  telemetry: false,
  showDeveloperTools: "never",
});
