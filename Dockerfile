# trailproof in a small image: built with the locked dependency versions, run as a non-root
# user with `trailproof` as the entrypoint.
#
#   docker build -t trailproof .
#   docker run --rm trailproof verify --help
#
# Stage 1 builds with the pinned toolchain; stage 2 is distroless (glibc, CA certificates, a
# `nonroot` user, no shell). TLS is rustls; libdeflate is compiled in: no other library.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The build needs a C compiler for libdeflate (in the slim image: gcc via build-essential).
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
# Cargo.toml names the benchmark and test targets; their files must exist to build.
COPY tests ./tests
# --locked: exactly the versions of Cargo.lock; the result is the same binary for the same tree.
RUN cargo install --locked --path . --root /out --bin trailproof

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/bin/trailproof /usr/local/bin/trailproof
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/trailproof"]
CMD ["--help"]
