// A real OpenID provider for Docket's tests: node-oidc-provider (OpenID Certified; 8.8.1, the newest that supports Node 20; pinned in
// package.json and package-lock.json), on loopback, with real RSA keys, consent granted by
// configuration (loadExistingGrant) and a plain login form that takes any login name.
//
//   node provider.mjs '{"slash": true, "conform": true, "parent": 1234}'
//
// prints one line of JSON, {"issuer": "...", "base": "http://127.0.0.1:PORT"}, when it listens,
// and exits when the process `parent` is gone. `slash`: the issuer it publishes ends with "/".
// `conform`: oidc-provider's default, ID tokens of the code flow carry only `sub` and the
// email comes from the UserInfo endpoint; false puts the email into the ID token too.
//
// The harness drives it over HTTP under /__test/:
//   PUT  /__test/clients/:id   {"secret", "redirect_uris"}   a client (Docket instance)
//   PUT  /__test/accounts/:id  {"email", "email_verified", "name"} who a login name is
//   PUT  /__test/tamper/:id    {"mode": "aud"|"exp"|null}      re-sign the ID tokens of a client
//        with this provider's own key but a wrong audience or an expiry in the past
//   POST /__test/rotate        replace the signing key by a new one (new kid, old one gone)
//   GET  /__test/counts        requests per endpoint, per client where there is one

import http from "node:http";
import crypto from "node:crypto";
import Provider from "oidc-provider";
import MemoryAdapter from "oidc-provider/lib/adapters/memory_adapter.js";
import * as jose from "jose";

const options = JSON.parse(process.argv[2] || "{}");

const clients = new Map();
const accounts = new Map();
const tamper = new Map();
const counts = {};
let signing = null;
let provider = null;

function count(client, route) {
  const key = client || "-";
  counts[key] ??= {};
  counts[key][route] = (counts[key][route] || 0) + 1;
}

async function newKey() {
  const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  jwk.kid = crypto.randomUUID();
  jwk.alg = "RS256";
  jwk.use = "sig";
  return { jwk, privateKey };
}

class ClientAdapter {
  async find(id) {
    return clients.get(id);
  }
  async upsert() {}
  async destroy() {}
  async consume() {}
  async findByUid() {}
  async findByUserCode() {}
  async revokeByGrantId() {}
}

function account(id) {
  const known = accounts.get(id) || {};
  return {
    sub: id,
    email: known.email ?? id,
    email_verified: known.email_verified ?? true,
    name: known.name ?? id,
  };
}

async function resign(body, mode) {
  const [, payload] = body.id_token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
  if (mode === "aud") {
    claims.aud = "some-other-client";
  } else if (mode === "exp") {
    claims.iat = Math.floor(Date.now() / 1000) - 7200;
    claims.exp = claims.iat + 3600;
  }
  body.id_token = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: signing.jwk.kid })
    .sign(signing.privateKey);
}

function build(issuer) {
  const p = new Provider(issuer, {
    adapter: (model) => (model === "Client" ? new ClientAdapter() : new MemoryAdapter(model)),
    jwks: { keys: [signing.jwk] },
    cookies: { keys: ["docket-test-provider-cookie-key"] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    conformIdTokenClaims: options.conform !== false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => account(id) }),
    // Consent is skipped by configuration: every client here is first-party.
    loadExistingGrant: async (ctx) => {
      const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope("openid email profile");
      await grant.save();
      return grant;
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    renderError: async (ctx, out) => {
      ctx.type = "text/plain";
      ctx.body = `${out.error}: ${out.error_description}`;
    },
  });
  p.use(async (ctx, next) => {
    await next();
    const route = {
      "/.well-known/openid-configuration": "discovery",
      "/jwks": "jwks",
      "/auth": "authorization",
      "/token": "token",
      "/me": "userinfo",
    }[ctx.path];
    if (route) count(ctx.oidc?.client?.clientId, route);
    if (ctx.path === "/token" && ctx.status === 200 && ctx.body?.id_token) {
      const mode = tamper.get(ctx.oidc?.client?.clientId);
      if (mode) await resign(ctx.body, mode);
    }
  });
  return p;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

function send(res, status, body, type = "application/json") {
  res.writeHead(status, { "content-type": type });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

async function harness(req, res, url, issuer) {
  const [, , what, id] = url.pathname.split("/");
  const body = req.method === "GET" ? {} : JSON.parse((await readBody(req)) || "{}");
  if (what === "clients") {
    clients.set(id, {
      client_id: id,
      client_secret: body.secret,
      redirect_uris: body.redirect_uris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    });
  } else if (what === "accounts") {
    accounts.set(id, body);
  } else if (what === "tamper") {
    if (body.mode) tamper.set(id, body.mode);
    else tamper.delete(id);
  } else if (what === "rotate") {
    signing = await newKey();
    provider = build(issuer);
  } else if (what === "counts") {
    return send(res, 200, counts);
  } else {
    return send(res, 404, { error: "no such test endpoint" });
  }
  send(res, 200, { ok: true });
}

async function interaction(req, res, url) {
  const uid = url.pathname.split("/")[2];
  if (req.method === "GET") {
    await provider.interactionDetails(req, res);
    return send(res, 200, `<!doctype html><html lang="en"><head><title>Test provider: sign in</title></head>
<body><main><h1>Test provider</h1>
<form method="post" action="/interaction/${uid}/login">
<label for="login">Login</label> <input id="login" name="login" autocomplete="username" required>
<button type="submit">Continue</button></form></main></body></html>`, "text/html; charset=utf-8");
  }
  const login = new URLSearchParams(await readBody(req)).get("login");
  await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://localhost");
    if (url.pathname.startsWith("/__test/")) return await harness(req, res, url, server.issuer);
    if (url.pathname.startsWith("/interaction/")) return await interaction(req, res, url);
    provider.callback()(req, res);
  } catch (error) {
    send(res, 500, { error: String(error) });
  }
});

server.listen(0, "127.0.0.1", async () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  server.issuer = options.slash ? `${base}/` : base;
  signing = await newKey();
  provider = build(server.issuer);
  process.stdout.write(JSON.stringify({ issuer: server.issuer, base }) + "\n");
});

if (options.parent) {
  setInterval(() => {
    try {
      process.kill(options.parent, 0);
    } catch {
      process.exit(0);
    }
  }, 500).unref();
}
