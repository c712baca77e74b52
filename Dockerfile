# The numguard image that docker-compose.yml runs: one image, a subcommand per service.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY numguard ./numguard
COPY producer ./producer
COPY consumer ./consumer
COPY schemas ./schemas
RUN pip install --no-cache-dir . && useradd --system --uid 10001 numguard
USER numguard
CMD ["numguard", "--help"]
