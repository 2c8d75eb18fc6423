# rowsched in a container: a Debian 12 build stage, and a slim runtime stage with only the shared
# libraries the binary links (libpqxx, spdlog, fmt, date-tz, curl, cpp-httplib) and the tz database.
#
#   docker build -t rowsched .
#   docker run --rm -e DATABASE_URL=postgresql://user:password@host/db rowsched migrate
#   docker run --rm -e DATABASE_URL=postgresql://user:password@host/db rowsched            # = rowsched run
#
# docker-compose.yml runs it together with PostgreSQL.

FROM debian:bookworm AS build
# The build packages of scripts/install-deps (catch2 too: CMakeLists.txt looks for it when configuring).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config \
      libpqxx-dev libpq-dev nlohmann-json3-dev libhowardhinnant-date-dev libspdlog-dev libfmt-dev \
      libcli11-dev libcurl4-openssl-dev libcpp-httplib-dev catch2 tzdata \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DROWSCHED_WERROR=OFF \
 && ninja -C /build rowsched \
 && strip /build/rowsched

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpqxx-6.4 libpq5 libspdlog1.10 libfmt9 libdate-tz3 libcurl4 libcpp-httplib0.11 tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin rowsched
COPY --from=build /build/rowsched /usr/local/bin/rowsched
USER rowsched
# rowsched stops cleanly on SIGTERM: it lets running jobs finish (--shutdown-timeout, default 30 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["rowsched"]
CMD ["run"]
