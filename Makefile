# The demo: the book's word-count stack (deploy/) started by `secure-up app`, with the secrets of
# secrets/environment.secrets decrypted by the DEMO key (deploy/demo/).
#
#   make demo        secure-up, engine and images if missing, then the stack; the app's URL
#   make demo-down   the stack and its database volume removed
#   make demo-renew  a new DBPASS, live: database, secrets file and services in one transaction
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
# The key as CI gives it: secure-up imports it into a throw-away keyring for each command, so
# no keyring of yours is read or written.
export SECURE_UP_GPG_KEY_FILE := $(CURDIR)/deploy/demo/demo-key.asc

VENV := $(CURDIR)/.venv
SECURE_UP := $(VENV)/bin/secure-up
APP_URL := http://127.0.0.1:$(APP_PORT)

.PHONY: demo demo-down demo-renew

demo:
	scripts/bootstrap.sh
	scripts/ensure-docker.sh
	scripts/build-images.sh
	$(SECURE_UP) app
	$(VENV)/bin/python deploy/demo/wait-for-app.py $(APP_URL)
	@echo "The word-count app: $(APP_URL)/  (make demo-down to remove it)"

# Compose interpolates DBPASS even to take the stack down, hence secure-up here too.
demo-down:
	@[[ -x $(SECURE_UP) ]] || { echo "no $(SECURE_UP): nothing was started (make demo installs it)" >&2; exit 1; }
	$(SECURE_UP) compose -- down -v

# A new demo password while the stack runs (`secure-up renew`): the database's roles first,
# tested, then secrets/environment.secrets, then app and worker recreated. Run `make demo` first.
demo-renew:
	@[[ -x $(SECURE_UP) ]] || { echo "no $(SECURE_UP): run make demo first" >&2; exit 1; }
	$(SECURE_UP) renew --generate DBPASS
	$(VENV)/bin/python deploy/demo/wait-for-app.py $(APP_URL)
