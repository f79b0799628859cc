# chat-server's image: built with the Rust toolchain, run on Debian slim as an unprivileged
# user. docker-compose.yml builds it for its two nodes; alone:
#   docker build -t chat-server .
#   docker run --rm -p 8000:8000 -e CHAT_DATABASE_URL=postgres://… chat-server
# Every setting is a CHAT_* variable (`docker run --rm chat-server serve --help`).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# The full Rust image (not -slim): it has the C toolchain that aws-lc-sys and the bundled
# SQLite compile with; none of it reaches the runtime image.
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The registry and target/ are cache mounts (BuildKit): a rebuild after a code change
# compiles the workspace again, not every dependency. The binary is copied out of the
# cache mount, which the next stage cannot see.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p chat-server \
    && install -D target/release/chat-server /out/chat-server

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: TLS to PostgreSQL or Redis when their URL asks for it; curl: the
# health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --home-dir /var/lib/chat --create-home chat
COPY --from=builder /out/chat-server /usr/local/bin/chat-server
USER chat
WORKDIR /var/lib/chat
# Inside a container the server listens on every interface (the default is loopback);
# without CHAT_DATABASE_URL it keeps a SQLite file in /var/lib/chat.
ENV CHAT_BIND=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8000/healthz || exit 1
# SIGTERM (docker stop) shuts down gracefully: open sockets are closed with 1001.
ENTRYPOINT ["chat-server"]
CMD ["serve"]
