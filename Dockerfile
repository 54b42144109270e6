# The gateway and the worker share one image; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY cbsp ./cbsp
COPY gateway ./gateway
COPY streams ./streams
COPY schemas ./schemas
RUN pip install --no-cache-dir .
ENTRYPOINT ["cbsp"]
