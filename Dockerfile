# syntax=docker/dockerfile:1
# Build stage: compile the release binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY data ./data
# The workspace names the benchmark client; cargo reads its manifest but builds only the server.
COPY bench/client ./bench/client
RUN cargo build --release --locked && strip target/release/docket

# Runtime stage: a small Debian with only CA certificates (for GitHub over TLS).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/docket --create-home docket
COPY --from=build /src/target/release/docket /usr/local/bin/docket
USER docket
WORKDIR /var/lib/docket
ENV DOCKET_LISTEN=0.0.0.0:8080 \
    DOCKET_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["docket", "healthcheck"]
# Needs DATABASE_URL, DOCKET_JWT_SECRET and DOCKET_ENCRYPTION_KEY (see docs/deploy.md).
ENTRYPOINT ["docket"]
CMD ["serve"]
