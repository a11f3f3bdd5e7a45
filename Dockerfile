# The platform's image for docker-compose: Airflow 3 (pinned) with this project and its locked
# dependencies installed by uv from uv.lock.
FROM apache/airflow:3.3.2-python3.11
USER root
# fonts-liberation2: Liberation Serif, the monthly briefing PDF's font (every Vietnamese glyph)
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/ioc/
COPY --chown=airflow:root pipelines /opt/ioc/pipelines
COPY --chown=airflow:root simulator /opt/ioc/simulator
COPY --chown=airflow:root schemas /opt/ioc/schemas
COPY --chown=airflow:root dags /opt/ioc/dags
COPY --chown=airflow:root alerts /opt/ioc/alerts
RUN pip install --no-cache-dir uv==0.13.8 \
 && cd /opt/ioc && uv export --frozen --no-dev --no-emit-project -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt -e /opt/ioc
ENV IOC_HOME=/opt/ioc/var IOC_SCHEMAS=/opt/ioc/schemas AIRFLOW__CORE__DAGS_FOLDER=/opt/ioc/dags
WORKDIR /opt/ioc
