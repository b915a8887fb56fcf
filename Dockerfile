# The team relay image: the release `preview-switch` binary only, run as a non-root user on
# distroless (glibc and the CA roots the Argo CD client needs, no shell, no package
# manager). `preview-switch serve` is the entry point; README "Team relay" and
# examples/relay/ show how it is deployed. Built from the workspace root:
#   docker build -t registry.example.com/preview-switch:0.1.0 .
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p preview-switch --bin preview-switch

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/preview-switch /usr/local/bin/preview-switch
USER 65532:65532
ENV PREVIEW_SWITCH_LISTEN=0.0.0.0:8080 \
    PREVIEW_SWITCH_LOG=info
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/preview-switch", "serve"]
