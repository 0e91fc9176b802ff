# Multi-stage build: compile in the Rust image, run from a small Debian image as a non-root user.
#   docker build -t switchboard .
#   docker run -p 8080:8080 -e OPENAI_API_KEY -e SWITCHBOARD_LISTEN=0.0.0.0:8080 switchboard
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p switchboard-cli --bin switchboard \
 && cp target/release/switchboard /switchboard

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/switchboard --create-home switchboard
COPY --from=build /switchboard /usr/local/bin/switchboard
USER switchboard
WORKDIR /var/lib/switchboard
ENV SWITCHBOARD_LISTEN=0.0.0.0:8080
EXPOSE 8080
STOPSIGNAL SIGTERM
# Probe GET /healthz (alive) and GET /readyz (ready) from your orchestrator.
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve"]
